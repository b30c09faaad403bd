// The manifests, run: the cpu overlay's NATS, coordinator and two trainers, and the example sweep
// Job, started as local processes from their rendered commands, args, env and config (Service
// names mapped to loopback, volumes to temp dirs; see helpers/local-pods.ts), complete a small
// sweep. A real Prometheus scrapes them as the PodMonitors would (job from the pods'
// app.kubernetes.io/name, a pod label) with the real rule file, and every dashboard panel's and
// every rule's PromQL is run over the sweep through the HTTP API and must return data; the DCGM
// GPU panels are the only exceptions (no GPU, no dcgm-exporter here).
//
// Departures from the cluster, each because of this machine: the experiment ConfigMap holds a tiny
// spec (builtin model, generated task) instead of bert-large on RTE; trainers get
// BALLAST_WASM_THREADS=1 (two trainers share 2 cores; the image would use tfjs-node); the rules'
// 30 s recording interval becomes 1 s, so that a one-minute sweep sees them evaluated.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkHealth } from '../coordinator/src/grpc/grpc-server.ts';
import { dashboardQueries } from '../dashboards/src/dashboard-model.ts';
import { REPO_ROOT, RULES_FILE, dashboards } from '../dashboards/src/generate.ts';
import { K8S, kubectlSkipReason, kustomize, parseManifests, podTemplates } from './helpers/k8s-manifests.ts';
import type { Container, K8sObject, PodTemplateRef } from './helpers/k8s-manifests.ts';
import { LocalCluster, waitFor } from './helpers/local-pods.ts';
import type { LocalPod, LocalProcess } from './helpers/local-pods.ts';
import { natsServerPath } from './helpers/nats-server.ts';
import { metricNames, ruleExpressions } from './helpers/ops-queries.ts';
import { prometheusSkipReason, startPrometheus } from './helpers/prometheus-server.ts';
import type { PrometheusServer } from './helpers/prometheus-server.ts';

const skip = kubectlSkipReason() || prometheusSkipReason() || (natsServerPath() ? false : 'nats-server not installed (.ci/run installs it)');

const TINY_SPEC = `name: ops-sweep
base:
  model: builtin:quickstart-tiny
  task: {name: synthetic}
  max_seq_length: 16
  batch_size: 8
  learning_rate: 1.0e-3
  # Long enough that several 1 s scrapes see each trial running and its trainer heartbeats (every
  # second in this test): the per-trial, heartbeat and idle-gap panels need that. 200 steps did
  # until the fused wasm kernels made a step several times faster.
  max_steps: 1500
  num_evals: 2
sweep:
  optimizer: [adamw, bertadam]
seeds: 2
`;

/** Panels that cannot have data without NVIDIA GPUs and dcgm-exporter: the only allowed exceptions. */
const NO_DATA_HERE = ['GPU utilisation (dcgm-exporter)', 'GPU memory used (dcgm-exporter)'];

function template(objects: K8sObject[], kind: string, name: string): PodTemplateRef['template'] {
  const found = podTemplates(objects).find((t) => t.owner.kind === kind && t.owner.metadata.name === name);
  assert.ok(found, `${kind}/${name} rendered`);
  return found.template;
}

/** Throws (with its log) if the process has exited: no point waiting for it. */
function alive(proc: LocalProcess): true {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) throw new Error(`${proc.pod}/${proc.container} exited:\n${proc.log()}`);
  return true;
}

async function httpOk(url: string): Promise<boolean> {
  try {
    return (await fetch(url)).ok;
  } catch {
    return false;
  }
}

describe('the manifests run as local processes and Prometheus sees the sweep', { skip, timeout: 240_000 }, () => {
  let root: string;
  let cluster: LocalCluster;
  let prometheus: PrometheusServer | undefined;
  let submit: LocalProcess;
  let submitCode: number | string;
  let sweepStart = 0;
  let sweepEnd = 0;
  let placed: LocalPod[] = [];

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'ballast-local-cluster-'));
    const objects = kustomize('overlays/cpu');
    const monitoring = kustomize('monitoring');
    const example = parseManifests(readFileSync(join(K8S, 'examples/my-experiment.yaml'), 'utf8'), 'my-experiment.yaml');
    const experimentMap = example.find((o) => o.kind === 'ConfigMap') as K8sObject;
    const natsConfig = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'nats-config') as K8sObject;

    cluster = new LocalCluster(root, [...objects, ...example], {
      secrets: { 'ballast-token': { token: 'local-cluster-token\n' } },
      entrypoints: { 'nats:': natsServerPath() as string },
      extraEnv: { BALLAST_WASM_THREADS: '1' },
      configMaps: { [experimentMap.metadata.name]: { 'experiment.yaml': TINY_SPEC } },
    });
    const natsPod = await cluster.addPod('nats-0', template(objects, 'StatefulSet', 'nats'));
    const coordinatorPod = await cluster.addPod('ballast-coordinator-0', template(objects, 'Deployment', 'ballast-coordinator'));
    const trainerTemplate = template(objects, 'Deployment', 'ballast-trainer');
    const trainerPods = [await cluster.addPod('ballast-trainer-a', trainerTemplate), await cluster.addPod('ballast-trainer-b', trainerTemplate)];
    const submitPod = await cluster.addPod('ballast-sweep-0', template(example, 'Job', (example.find((o) => o.kind === 'Job') as K8sObject).metadata.name));
    cluster.bindServices();
    placed = [natsPod, coordinatorPod, ...trainerPods];

    // NATS listens where the ConfigMap says: point its ports at the pod's local ones.
    const conf = (natsConfig.data?.['nats.conf'] ?? '')
      .replace(/^(\s*)port:\s*4222/m, `$1port: ${natsPod.ports.get(4222)}\n$1host: 127.0.0.1`)
      .replace(/^(\s*)http_port:\s*8222/m, `$1http_port: ${natsPod.ports.get(8222)}`);
    cluster.setConfigMap('nats-config', { 'nats.conf': conf });

    const nats = cluster.start('nats-0', natsPod.template.spec.containers[0] as Container);
    await waitFor(() => alive(nats) && httpOk(`http://127.0.0.1:${natsPod.ports.get(8222)}/healthz?js-enabled-only=true`), 20_000, () => nats.log());

    const coordinator = cluster.start(coordinatorPod.name, coordinatorPod.template.spec.containers[0] as Container);
    await waitFor(() => alive(coordinator) && coordinator.log().includes('coordinator listening') && coordinator.log().includes('metrics listening'), 30_000, () => coordinator.log());
    // The manifests' trainers heartbeat every 5 s; here every second, so that the heartbeat-latency
    // panel has data however fast this machine runs the sweep's short trials.
    const trainers = trainerPods.map((pod) => {
      const container = pod.template.spec.containers[0] as Container;
      return cluster.start(pod.name, { ...container, args: [...(container.args ?? []), '--heartbeat-interval', '1'] });
    });
    await waitFor(
      async () => trainers.every(alive) && (await Promise.all(trainerPods.map((pod) => httpOk(`http://127.0.0.1:${pod.ports.get(9464)}/healthz`)))).every(Boolean),
      60_000,
      () => trainers.map((t) => t.log()).join('\n'),
    );

    // Scrape as the PodMonitors would: job from the pod label jobLabel names, plus a pod label.
    const jobs = monitoring
      .filter((o) => o.kind === 'PodMonitor')
      .map((monitor) => {
        const spec = monitor.spec as { jobLabel: string; selector: { matchLabels: Record<string, string> }; podMetricsEndpoints: Array<{ port: string }> };
        const pods = [coordinatorPod, ...trainerPods].filter((p) => Object.entries(spec.selector.matchLabels).every(([k, v]) => p.template.metadata?.labels?.[k] === v));
        const job = pods[0]?.template.metadata?.labels?.[spec.jobLabel] as string;
        return {
          job,
          targets: pods.map((p) => {
            const port = p.template.spec.containers[0]?.ports?.find((x) => x.name === spec.podMetricsEndpoints[0]?.port)?.containerPort as number;
            return { address: `127.0.0.1:${p.ports.get(port)}`, labels: { pod: p.name, namespace: 'ballast' } };
          }),
        };
      });
    assert.deepEqual(jobs.map((j) => j.job).sort(), ['ballast-coordinator', 'ballast-trainer']);
    const rules = join(root, 'ballast-rules.yaml');
    writeFileSync(rules, readFileSync(join(REPO_ROOT, RULES_FILE), 'utf8').replace(/interval: 30s/g, 'interval: 1s'));
    prometheus = await startPrometheus({ jobs, ruleFiles: [rules], scrapeIntervalSeconds: 1 });

    sweepStart = Date.now() / 1000;
    submit = cluster.start(submitPod.name, submitPod.template.spec.containers[0] as Container);
    let timer: NodeJS.Timeout | undefined;
    submitCode = await Promise.race([submit.exited, new Promise<string>((resolve) => (timer = setTimeout(() => resolve('timeout'), 150_000)))]);
    clearTimeout(timer);
    // Two more scrapes and rule evaluations after the last change.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    sweepEnd = Date.now() / 1000;
  });

  after(async () => {
    await prometheus?.stop();
    await cluster?.stopAll();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  test('the example Job submits the spec and `--wait`s it to the end: every trial succeeds, outputs land on the trials volume', () => {
    assert.equal(submitCode, 0, `submit: ${submit.log()}\n${cluster.processes.map((p) => `--- ${p.pod}\n${p.log().slice(-3000)}`).join('\n')}`);
    assert.match(submit.log(), /adamw|bertadam/, 'the results table');
    // The Job submits under its --id, which names the experiment's directory.
    const trialsDir = join(root, 'pvc', 'ballast-trials', 'rte-debiasing');
    const trials = existsSync(trialsDir) ? readdirSync(trialsDir) : [];
    assert.equal(trials.length, 4, `trial directories under the ballast-trials volume: ${trials.join(', ')}`);
    for (const trial of trials) assert.ok(existsSync(join(trialsDir, trial, 'result.json')), `${trial}/result.json`);
    // The coordinator journaled under its PVC, and the trainers ran with the pod names as worker ids.
    assert.ok(existsSync(join(root, 'pvc', 'ballast-coordinator-state', 'journal.jsonl')));
    const trainerLogs = cluster.processes.filter((p) => p.pod.startsWith('ballast-trainer')).map((p) => p.log()).join('\n');
    assert.match(trainerLogs, /"workerId":"ballast-trainer-a"/);
  });

  test("the kubelet's probes succeed against the running processes (gRPC health needs no token)", async () => {
    let probes = 0;
    for (const pod of placed) {
      for (const c of pod.template.spec.containers) {
        for (const probe of [c.startupProbe, c.readinessProbe, c.livenessProbe]) {
          if (!probe) continue;
          const named = probe.grpc?.port ?? probe.httpGet?.port;
          const containerPort = typeof named === 'number' ? named : c.ports?.find((p) => p.name === named)?.containerPort;
          const local = pod.ports.get(containerPort as number);
          assert.ok(local, `${pod.name}: probe port ${named}`);
          if (probe.grpc) assert.equal(await checkHealth(`127.0.0.1:${local}`), 'SERVING', `${pod.name} gRPC probe`);
          else assert.ok(await httpOk(`http://127.0.0.1:${local}${probe.httpGet?.path ?? '/'}`), `${pod.name} HTTP probe ${probe.httpGet?.path}`);
          probes++;
        }
      }
    }
    assert.ok(probes >= 6, `${probes} probes`);
  });

  test('every dashboard panel query returns data from the live sweep (DCGM panels excepted, by name)', async () => {
    assert.ok(prometheus);
    const metricValues = await prometheus.api<string[]>(`/api/v1/label/metric/values?match[]=ballast_coordinator_trial_metric_count`);
    assert.ok(metricValues.length > 0, 'a headline metric was recorded');
    const variables: Record<string, string> = { experiment: '.+', pod: '.+', metric: metricValues[0] as string, __rate_interval: '5s' };
    const empty: string[] = [];
    let queries = 0;
    for (const d of Object.values(dashboards())) {
      for (const variable of d.templating.list) {
        if (variable.type !== 'query') continue;
        const query = (variable.query as { query: string }).query;
        const [, metric, label] = /^label_values\((\w+), (\w+)\)$/.exec(query) ?? [];
        assert.ok(metric && label, `${d.uid}: variable ${variable.name}: ${query}`);
        const values = await prometheus.api<string[]>(`/api/v1/label/${label}/values?match[]=${metric}`);
        assert.ok(values.length > 0, `${d.uid}: variable ${variable.name} has no values`);
      }
      for (const q of dashboardQueries(d)) {
        queries++;
        const expr = q.expr.replace(/\$(\w+)/g, (whole, name: string) => variables[name] ?? whole);
        assert.doesNotMatch(expr, /\$/, `${d.uid}/${q.panel}: unresolved variable`);
        const series = await prometheus.queryRange(expr, sweepStart, sweepEnd);
        const hasData = series.some((s) => s.values.some(([, v]) => v !== 'NaN'));
        if (!hasData) empty.push(q.panel);
      }
    }
    assert.ok(queries > 50, `${queries} queries`);
    assert.deepEqual([...new Set(empty)].sort(), [...NO_DATA_HERE].sort(), 'panels without data');
  });

  test('every rule evaluates cleanly; recording rules and the series every alert reads return data', async () => {
    assert.ok(prometheus);
    const groups = await prometheus.api<{ groups: Array<{ rules: Array<{ name: string; health: string; lastError?: string; type: string }> }> }>('/api/v1/rules');
    const loaded = groups.groups.flatMap((g) => g.rules);
    for (const rule of ruleExpressions()) {
      const live = loaded.find((r) => r.name === rule.name);
      assert.ok(live, `${rule.name} loaded`);
      assert.equal(live.health, 'ok', `${rule.name}: ${live.lastError ?? ''}`);
      const names = rule.kind === 'record' ? [rule.name] : metricNames(rule.expr);
      for (const name of names) {
        const series = await prometheus.queryRange(`{__name__="${name}"}`, sweepStart, sweepEnd);
        assert.ok(series.some((s) => s.values.some(([, v]) => v !== 'NaN')), `${rule.name}: ${name} has no data`);
      }
    }
    // The stall signal saw both trainers while they trained (its alert compares it with 0).
    const steps = await prometheus.queryRange('ballast:trainer_steps:increase10m', sweepStart, sweepEnd);
    assert.deepEqual(new Set(steps.map((s) => s.metric.pod)), new Set(['ballast-trainer-a', 'ballast-trainer-b']));
    const succeeded = await prometheus.queryRange('sum(ballast_coordinator_trials{state="succeeded"})', sweepEnd - 1, sweepEnd);
    assert.equal(succeeded[0]?.values.at(-1)?.[1], '4');
  });
});
