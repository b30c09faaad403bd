// The Kubernetes manifests, offline: `kubectl kustomize` renders every overlay, every object
// validates against the Kubernetes schemas, selectors select, probes and Services reach ports the
// processes serve, every container runs a valid `ballast` invocation whose files are mounted, and
// the pods are locked down.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { REPO_ROOT, dashboards } from '../dashboards/src/generate.ts';
import {
  K8S,
  expandVars,
  kubectlSkipReason,
  kustomize,
  modelClass,
  parseBallast,
  parseManifests,
  podTemplates,
} from './helpers/k8s-manifests.ts';
import type { Container, K8sObject, PodTemplateRef, Probe } from './helpers/k8s-manifests.ts';

const skip = kubectlSkipReason();
const OVERLAYS = ['overlays/gpu', 'overlays/cpu'];
/** Custom resources of prometheus-operator: no schema in kubernetes-models; checked field by field below. */
const CRD_KINDS = new Set(['PodMonitor', 'PrometheusRule']);

function render(): Map<string, K8sObject[]> {
  const rendered = new Map<string, K8sObject[]>();
  for (const dir of ['base', ...OVERLAYS, 'monitoring']) rendered.set(dir, kustomize(dir));
  rendered.set('examples/my-experiment.yaml', parseManifests(readFileSync(join(K8S, 'examples/my-experiment.yaml'), 'utf8'), 'my-experiment.yaml'));
  return rendered;
}

function matches(selector: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

function selectorMatches(selector: { matchLabels?: Record<string, string>; matchExpressions?: Array<{ key: string; operator: string; values?: string[] }> }, labels: Record<string, string> | undefined): boolean {
  if (!matches(selector.matchLabels ?? {}, labels)) return false;
  return (selector.matchExpressions ?? []).every((e) => {
    const value = labels?.[e.key];
    if (e.operator === 'In') return value !== undefined && (e.values ?? []).includes(value);
    if (e.operator === 'NotIn') return value === undefined || !(e.values ?? []).includes(value);
    if (e.operator === 'Exists') return value !== undefined;
    return value === undefined;
  });
}

function envOf(container: Container, podName: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.name') env[e.name] = podName;
  }
  return env;
}

function argv(container: Container, podName: string): string[] {
  const env = envOf(container, podName);
  return [...(container.command ?? []), ...(container.args ?? [])].map((a) => expandVars(a, env));
}

function portOf(hostPort: string): number {
  return Number(hostPort.slice(hostPort.lastIndexOf(':') + 1));
}

/** The ports a container's process listens on, from its command line (ballast) or its config (nats). */
function servedPorts(container: Container, objects: K8sObject[]): Set<number> {
  const args = argv(container, 'pod');
  const ports = new Set<number>();
  if (args[0] === 'ballast') {
    for (const flag of ['--listen', '--metrics-listen']) {
      const i = args.indexOf(flag);
      if (i >= 0) ports.add(portOf(args[i + 1] as string));
    }
  } else if (container.name === 'nats') {
    const config = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'nats-config')?.data?.['nats.conf'] ?? '';
    for (const m of config.matchAll(/^\s*(?:port|http_port):\s*(\d+)/gm)) ports.add(Number(m[1]));
  }
  return ports;
}

function containerPort(container: Container, port: number | string): number | undefined {
  if (typeof port === 'number') return (container.ports ?? []).some((p) => p.containerPort === port) ? port : undefined;
  return container.ports?.find((p) => p.name === port)?.containerPort;
}

function probePort(probe: Probe): number | string {
  return (probe.grpc?.port ?? probe.httpGet?.port ?? probe.tcpSocket?.port) as number | string;
}

function mountFor(container: Container, path: string) {
  return (container.volumeMounts ?? []).filter((m) => path === m.mountPath || path.startsWith(`${m.mountPath}/`)).sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
}

/** BALLAST_* variables the sources read. */
function ballastEnvNames(): Set<string> {
  const names = new Set<string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) {
        for (const m of readFileSync(path, 'utf8').matchAll(/\b(BALLAST_[A-Z0-9_]+)\b/g)) names.add(m[1] as string);
      }
    }
  };
  for (const dir of ['cli', 'coordinator', 'trainer']) walk(join(REPO_ROOT, dir));
  return names;
}

function allContainers(t: PodTemplateRef): Container[] {
  return [...(t.template.spec.initContainers ?? []), ...t.template.spec.containers];
}

describe('kubernetes manifests', { skip }, () => {
  const rendered = skip ? new Map<string, K8sObject[]>() : render();

  test('every overlay renders and every object validates against the Kubernetes schemas', async () => {
    for (const [dir, objects] of rendered) {
      assert.ok(objects.length > 0, dir);
      for (const object of objects) {
        const where = `${dir}: ${object.kind}/${object.metadata.name}`;
        if (CRD_KINDS.has(object.kind)) {
          assert.equal(object.apiVersion, 'monitoring.coreos.com/v1', where);
          continue;
        }
        const Model = await modelClass(object);
        assert.ok(Model, `${where}: no schema for ${object.apiVersion} ${object.kind}`);
        assert.doesNotThrow(() => new Model(object).validate(), where);
      }
    }
    const kinds = (dir: string) => new Set((rendered.get(dir) ?? []).map((o) => `${o.kind}/${o.metadata.name}`));
    for (const dir of OVERLAYS) {
      for (const expected of ['StatefulSet/nats', 'Deployment/ballast-coordinator', 'Service/ballast-coordinator', 'PersistentVolumeClaim/ballast-coordinator-state', 'Deployment/ballast-trainer', 'Job/ballast-download', 'PersistentVolumeClaim/ballast-data', 'PersistentVolumeClaim/ballast-trials', 'ServiceAccount/ballast', 'NetworkPolicy/ballast-coordinator']) {
        assert.ok(kinds(dir).has(expected), `${dir} lacks ${expected}`);
      }
    }
  });

  test('a broken object fails validation (the check can fail)', async () => {
    const deployment = structuredClone((rendered.get('overlays/cpu') ?? []).find((o) => o.kind === 'Deployment') as K8sObject);
    (deployment.spec as Record<string, unknown>).replicas = 'one';
    const Model = await modelClass(deployment);
    assert.throws(() => new Model!(deployment).validate());
  });

  test('selectors match labels: workloads, Services, NetworkPolicies, PodMonitors', () => {
    for (const [dir, objects] of rendered) {
      const templates = podTemplates(objects);
      for (const t of templates) {
        if (t.owner.kind === 'Job') continue;
        const selector = (t.owner.spec as { selector: { matchLabels: Record<string, string> } }).selector;
        assert.ok(selectorMatches(selector, t.template.metadata?.labels), `${dir}: ${t.owner.metadata.name} selector does not match its pods`);
      }
      const allTemplates = [...rendered.values()].flatMap(podTemplates);
      for (const service of objects.filter((o) => o.kind === 'Service')) {
        const spec = service.spec as { selector: Record<string, string>; ports: Array<{ name: string; port: number; targetPort: number | string }> };
        const selected = templates.filter((t) => matches(spec.selector, t.template.metadata?.labels));
        assert.ok(selected.length > 0, `${dir}: Service ${service.metadata.name} selects no pods`);
        for (const port of spec.ports) {
          for (const t of selected) {
            const served = t.template.spec.containers.some((c) => {
              const number = containerPort(c, port.targetPort);
              return number !== undefined && servedPorts(c, objects).has(number);
            });
            assert.ok(served, `${dir}: Service ${service.metadata.name} port ${port.name} targets ${port.targetPort}, which no container of ${t.owner.metadata.name} serves`);
          }
        }
      }
      for (const policy of objects.filter((o) => o.kind === 'NetworkPolicy')) {
        const spec = policy.spec as { podSelector: Parameters<typeof selectorMatches>[0]; ingress?: Array<{ ports?: Array<{ port: string | number }> }> };
        const selected = allTemplates.filter((t) => selectorMatches(spec.podSelector, t.template.metadata?.labels));
        assert.ok(selected.length > 0, `${dir}: NetworkPolicy ${policy.metadata.name} selects no pods`);
        for (const rule of spec.ingress ?? []) {
          for (const p of rule.ports ?? []) {
            assert.ok(selected.some((t) => t.template.spec.containers.some((c) => containerPort(c, p.port) !== undefined)), `${dir}: NetworkPolicy ${policy.metadata.name} opens port ${p.port} that no selected container has`);
          }
        }
      }
      for (const monitor of objects.filter((o) => o.kind === 'PodMonitor')) {
        const spec = monitor.spec as { jobLabel: string; selector: { matchLabels: Record<string, string> }; podMetricsEndpoints: Array<{ port: string; path: string }> };
        const selected = allTemplates.filter((t) => matches(spec.selector.matchLabels, t.template.metadata?.labels));
        assert.ok(selected.length > 0, `${dir}: PodMonitor ${monitor.metadata.name} selects no pods`);
        for (const t of selected) {
          const job = t.template.metadata?.labels?.[spec.jobLabel];
          assert.ok(job === 'ballast-coordinator' || job === 'ballast-trainer', `PodMonitor ${monitor.metadata.name}: jobLabel gives '${job}', the rules expect ballast-coordinator/ballast-trainer`);
          for (const endpoint of spec.podMetricsEndpoints) {
            const c = t.template.spec.containers.find((c) => containerPort(c, endpoint.port) !== undefined);
            assert.ok(c && servedPorts(c, objects).has(containerPort(c, endpoint.port) as number), `PodMonitor ${monitor.metadata.name}: port ${endpoint.port} not served`);
            assert.equal(endpoint.path, '/metrics');
          }
        }
      }
    }
  });

  test('probes point at ports the processes serve (gRPC health on --listen, /healthz on --metrics-listen)', () => {
    for (const dir of OVERLAYS) {
      const objects = rendered.get(dir) ?? [];
      for (const t of podTemplates(objects)) {
        for (const c of t.template.spec.containers) {
          for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe]) {
            if (!probe) continue;
            const port = containerPort(c, probePort(probe));
            assert.ok(port !== undefined && servedPorts(c, objects).has(port), `${dir}: ${c.name} probe on ${probePort(probe)}, not a served port`);
            const args = argv(c, 'pod');
            if (probe.grpc) assert.equal(port, portOf(args[args.indexOf('--listen') + 1] as string), `${c.name}: gRPC probe must hit the gRPC port`);
            if (probe.httpGet && args[0] === 'ballast') {
              assert.equal(port, portOf(args[args.indexOf('--metrics-listen') + 1] as string), `${c.name}: HTTP probe must hit the metrics server`);
              assert.equal(probe.httpGet.path, '/healthz');
            }
          }
        }
        const coordinator = t.owner.metadata.name === 'ballast-coordinator';
        if (coordinator) {
          const c = t.template.spec.containers[0] as Container;
          assert.ok(c.readinessProbe?.grpc && c.livenessProbe?.grpc, 'the coordinator has gRPC readiness and liveness probes');
        }
      }
    }
  });

  test("every container's command, args and env are a valid ballast invocation with its files mounted", async () => {
    const knownEnv = ballastEnvNames();
    for (const [dir, objects] of rendered) {
      if (dir === 'monitoring') continue;
      // The example Job runs beside an overlay's Services.
      const services = [...objects, ...(dir.startsWith('examples/') ? (rendered.get('overlays/cpu') ?? []) : [])].filter((o) => o.kind === 'Service');
      for (const t of podTemplates(objects)) {
        for (const c of allContainers(t)) {
          const where = `${dir}: ${t.owner.metadata.name}/${c.name}`;
          if (c.name === 'nats') continue;
          assert.deepEqual(c.command, ['ballast'], `${where}: runs ballast`);
          const args = argv(c, `${t.owner.metadata.name}-0`).slice(1);
          assert.ok(!args.some((a) => a.includes('$(')), `${where}: unresolved $(VAR) in ${args.join(' ')}`);
          const parsed = await parseBallast(args);
          const opts = parsed.opts as Record<string, string | undefined>;
          for (const e of c.env ?? []) if (e.name.startsWith('BALLAST_')) assert.ok(knownEnv.has(e.name), `${where}: ${e.name} is read nowhere`);
          const env = envOf(c, 'pod');
          const mounted = (path: string, writable: boolean) => {
            const mount = mountFor(c, path);
            assert.ok(mount, `${where}: ${path} is not on a volume`);
            if (writable) assert.ok(!mount.readOnly, `${where}: ${path} must be writable`);
            assert.ok((t.template.spec.volumes ?? []).some((v) => v.name === mount.name), `${where}: volume ${mount.name} is not declared`);
            return mount;
          };
          if (opts.tokenFile) mounted(opts.tokenFile, false);
          if (opts.coordinator) {
            const [host, port] = [opts.coordinator.slice(0, opts.coordinator.lastIndexOf(':')), portOf(opts.coordinator)];
            const service = services.find((s) => s.metadata.name === host);
            assert.ok(service, `${where}: --coordinator ${opts.coordinator}: no Service ${host}`);
            assert.ok((service.spec as { ports: Array<{ port: number }> }).ports.some((p) => p.port === port), `${where}: Service ${host} has no port ${port}`);
          }
          if (opts.nats) {
            const url = new URL(opts.nats);
            const service = services.find((s) => s.metadata.name === url.hostname);
            assert.ok(service && (service.spec as { ports: Array<{ port: number }> }).ports.some((p) => p.port === Number(url.port)), `${where}: --nats ${opts.nats} has no Service`);
          }
          switch (parsed.command) {
            case 'coordinator':
              mounted(opts.stateDir as string, true);
              break;
            case 'trainer': {
              assert.ok(env.BALLAST_DATA_ROOT, `${where}: BALLAST_DATA_ROOT`);
              assert.ok(mounted(env.BALLAST_DATA_ROOT as string, false).readOnly, `${where}: the data volume is mounted read-only`);
              mounted(env.BALLAST_OUT_DIR ?? (opts.outDir as string), true);
              const grace = Number(opts.gracePeriod);
              const kubelet = t.template.spec.terminationGracePeriodSeconds ?? 30;
              assert.ok(grace + 5 <= kubelet, `${where}: --grace-period ${grace} s must leave room before the kubelet's ${kubelet} s`);
              break;
            }
            case 'submit': {
              const spec = parsed.args[0] as string;
              const mount = mounted(spec, false);
              const volume = (t.template.spec.volumes ?? []).find((v) => v.name === mount.name) as { configMap?: { name: string } };
              const configMap = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === volume.configMap?.name);
              assert.ok(configMap, `${where}: the spec's ConfigMap is in the same file`);
              assert.ok(configMap.data?.[spec.slice(mount.mountPath.length + 1)], `${where}: the ConfigMap has the key ${spec}`);
              assert.ok(opts.wait, `${where}: --wait, so the Job ends with the sweep`);
              assert.ok(opts.id, `${where}: --id, so a retried Job pod re-attaches`);
              break;
            }
            case 'download model':
            case 'download glue':
              mounted(opts.dataRoot as string, true);
              break;
            default:
              assert.fail(`${where}: unexpected subcommand ${parsed.command}`);
          }
        }
      }
    }
  });

  test('pods run locked down: non-root, read-only root, no capabilities, seccomp, requests and limits, a tmp volume', () => {
    for (const [dir, objects] of rendered) {
      for (const t of podTemplates(objects)) {
        const pod = t.template.spec;
        const where = `${dir}: ${t.owner.metadata.name}`;
        assert.equal(pod.securityContext?.runAsNonRoot, true, `${where}: runAsNonRoot`);
        assert.deepEqual(pod.securityContext?.seccompProfile, { type: 'RuntimeDefault' }, `${where}: seccomp`);
        assert.equal(pod.serviceAccountName, 'ballast', `${where}: service account`);
        for (const c of allContainers(t)) {
          assert.equal(c.securityContext?.readOnlyRootFilesystem, true, `${where}/${c.name}: read-only root`);
          assert.equal(c.securityContext?.allowPrivilegeEscalation, false, `${where}/${c.name}`);
          assert.deepEqual((c.securityContext?.capabilities as { drop?: string[] })?.drop, ['ALL'], `${where}/${c.name}: drop ALL`);
          assert.ok(c.resources?.requests?.cpu && c.resources.requests.memory && c.resources.limits?.memory, `${where}/${c.name}: requests and limits`);
          if (c.command?.[0] === 'ballast') assert.ok(mountFor(c, '/tmp'), `${where}/${c.name}: /tmp is a volume (tsx caches there)`);
        }
      }
    }
  });

  test('overlays: gpu trainers request one GPU each; cpu trainers none; one coordinator, replaced with Recreate', () => {
    const trainer = (dir: string) => (rendered.get(dir) ?? []).find((o) => o.kind === 'Deployment' && o.metadata.name === 'ballast-trainer') as K8sObject;
    const container = (d: K8sObject) => ((d.spec as { template: PodTemplateRef['template'] }).template.spec.containers[0]) as Container;
    const gpu = container(trainer('overlays/gpu'));
    assert.equal(gpu.resources?.requests?.['nvidia.com/gpu'], 1);
    assert.equal(gpu.resources?.limits?.['nvidia.com/gpu'], 1);
    assert.match(gpu.image, /trainer-gpu/);
    assert.ok((trainer('overlays/gpu').spec as { replicas: number }).replicas >= 1);
    const cpu = container(trainer('overlays/cpu'));
    assert.equal(cpu.resources?.requests?.['nvidia.com/gpu'], undefined);
    assert.match(cpu.image, /trainer-cpu/);
    for (const dir of OVERLAYS) {
      const coordinator = (rendered.get(dir) ?? []).find((o) => o.kind === 'Deployment' && o.metadata.name === 'ballast-coordinator') as K8sObject;
      assert.equal((coordinator.spec as { replicas: number }).replicas, 1);
      assert.deepEqual((coordinator.spec as { strategy: unknown }).strategy, { type: 'Recreate' });
      const nats = (rendered.get(dir) ?? []).find((o) => o.kind === 'StatefulSet' && o.metadata.name === 'nats') as K8sObject;
      assert.equal((nats.spec as { volumeClaimTemplates: unknown[] }).volumeClaimTemplates.length, 1, 'NATS keeps its JetStream store on a PVC');
      const config = (rendered.get(dir) ?? []).find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'nats-config');
      assert.match(config?.data?.['nats.conf'] ?? '', /jetstream\s*\{[^}]*store_dir:\s*\/data/);
    }
  });

  test('monitoring: scrape annotations, dashboard ConfigMaps for the Grafana sidecar, the alert rules', () => {
    for (const dir of OVERLAYS) {
      for (const t of podTemplates(rendered.get(dir) ?? []).filter((t) => /ballast-(coordinator|trainer)/.test(t.owner.metadata.name))) {
        const annotations = t.template.metadata?.annotations ?? {};
        assert.equal(annotations['prometheus.io/scrape'], 'true');
        const c = t.template.spec.containers[0] as Container;
        assert.ok(servedPorts(c, []).has(Number(annotations['prometheus.io/port'])), `${t.owner.metadata.name}: prometheus.io/port is the metrics port`);
      }
    }
    const monitoring = rendered.get('monitoring') ?? [];
    const maps = monitoring.filter((o) => o.kind === 'ConfigMap');
    assert.equal(maps.length, Object.keys(dashboards()).length);
    for (const map of maps) {
      assert.equal(map.metadata.labels?.grafana_dashboard, '1');
      const [file, json] = Object.entries(map.data ?? {})[0] as [string, string];
      assert.equal(json, readFileSync(join(REPO_ROOT, 'dashboards/grafana', file), 'utf8'));
    }
    const rule = monitoring.find((o) => o.kind === 'PrometheusRule') as K8sObject;
    const source = parse(readFileSync(join(REPO_ROOT, 'dashboards/alerts/ballast-rules.yaml'), 'utf8')) as { groups: unknown };
    assert.deepEqual((rule.spec as { groups: unknown }).groups, source.groups);
    const promtool = ['/usr/bin/promtool', '/usr/local/bin/promtool'].find((p) => existsSync(p));
    if (promtool) {
      const dir = mkdtempSync(join(tmpdir(), 'ballast-rule-'));
      try {
        writeFileSync(join(dir, 'rules.yaml'), stringify(rule.spec));
        const check = spawnSync(promtool, ['check', 'rules', join(dir, 'rules.yaml')], { encoding: 'utf8' });
        assert.equal(check.status, 0, check.stdout + check.stderr);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });
});
