// Runs rendered Kubernetes containers as local processes: the container's own command, args and
// env, with the cluster mapped onto this machine. Service names become loopback addresses, every
// container port gets a free loopback port (so two "pods" can both listen on 9464), and every
// volume becomes a temp directory: one per PVC (shared between pods, as a ReadWriteMany volume
// is), one per ConfigMap and Secret (their files written out), one per emptyDir. Paths in args,
// env and ConfigMap files that fall under a mount are rewritten to that directory.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './free-port.ts';
import { expandVars } from './k8s-manifests.ts';
import type { Container, K8sObject, PodTemplateRef } from './k8s-manifests.ts';

const BALLAST = fileURLToPath(new URL('../../bin/ballast.mjs', import.meta.url));

export interface LocalPod {
  name: string;
  template: PodTemplateRef['template'];
  /** containerPort -> local port. */
  ports: Map<number, number>;
}

export interface LocalProcess {
  pod: string;
  container: string;
  argv: string[];
  env: Record<string, string>;
  child: ChildProcess;
  exited: Promise<number | string>;
  log(): string;
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

export class LocalCluster {
  private readonly pods = new Map<string, LocalPod>();
  /** `service:port` -> `127.0.0.1:localPort`. */
  private readonly services = new Map<string, string>();
  readonly processes: LocalProcess[] = [];
  private readonly configMaps = new Map<string, Record<string, string>>();

  constructor(
    readonly root: string,
    private readonly objects: K8sObject[],
    private readonly options: {
      /** ConfigMap and Secret contents by name (ConfigMaps default to the rendered data). */
      configMaps?: Record<string, Record<string, string>>;
      secrets?: Record<string, Record<string, string>>;
      /** Binaries for images without a `ballast` command, by image-name prefix. */
      entrypoints?: Record<string, string>;
      /** Added to every process's env (e.g. thread caps for a 2-core machine). */
      extraEnv?: Record<string, string>;
    } = {},
  ) {}

  /** Replaces a ConfigMap's contents for the pods started from now on. */
  setConfigMap(name: string, data: Record<string, string>): void {
    this.configMaps.set(name, data);
  }

  /** Places a pod: allocates its ports. Call for every pod before `bindServices` and `start`. */
  async addPod(name: string, template: PodTemplateRef['template']): Promise<LocalPod> {
    const ports = new Map<number, number>();
    for (const c of template.spec.containers) for (const p of c.ports ?? []) ports.set(p.containerPort, await freePort());
    const pod = { name, template, ports };
    this.pods.set(name, pod);
    return pod;
  }

  /** Maps each Service's `name:port` to the local port of the first placed pod it selects. */
  bindServices(): void {
    for (const service of this.objects.filter((o) => o.kind === 'Service')) {
      const spec = service.spec as { selector: Record<string, string>; ports: Array<{ port: number; targetPort: number | string }> };
      const pod = [...this.pods.values()].find((p) => Object.entries(spec.selector).every(([k, v]) => p.template.metadata?.labels?.[k] === v));
      if (!pod) continue;
      for (const port of spec.ports) {
        const container = pod.template.spec.containers.find((c) => (c.ports ?? []).some((p) => p.name === port.targetPort || p.containerPort === port.targetPort));
        const target = container?.ports?.find((p) => p.name === port.targetPort || p.containerPort === port.targetPort)?.containerPort;
        const local = target !== undefined ? pod.ports.get(target) : undefined;
        if (local !== undefined) this.services.set(`${service.metadata.name}:${port.port}`, `127.0.0.1:${local}`);
      }
    }
  }

  serviceAddress(hostPort: string): string {
    const address = this.services.get(hostPort);
    if (!address) throw new Error(`no local pod behind Service ${hostPort}`);
    return address;
  }

  /** Where a pod's volume lives locally. */
  private volumeDir(pod: LocalPod, volumeName: string): string {
    const volume = (pod.template.spec.volumes ?? []).find((v) => v.name === volumeName) as Record<string, Record<string, unknown>> | undefined;
    if (!volume) return join(this.root, 'claim-templates', `${volumeName}-${pod.name}`); // a StatefulSet volumeClaimTemplate
    if (volume.persistentVolumeClaim) return join(this.root, 'pvc', volume.persistentVolumeClaim.claimName as string);
    if (volume.configMap) return join(this.root, 'configmap', volume.configMap.name as string);
    if (volume.secret) return join(this.root, 'secret', volume.secret.secretName as string);
    if (volume.emptyDir) return join(this.root, 'pod', pod.name, volumeName);
    throw new Error(`volume ${volumeName}: unsupported source ${Object.keys(volume).join(', ')}`);
  }

  private rewrite(text: string, pod: LocalPod, mounts: Array<{ from: string; to: string }>): string {
    let out = text.replace(/0\.0\.0\.0:(\d+)/g, (whole, port: string) => {
      const local = pod.ports.get(Number(port));
      return local !== undefined ? `127.0.0.1:${local}` : whole;
    });
    for (const [service, address] of this.services) out = out.split(service).join(address);
    if (mounts.length === 0) return out;
    // One pass over every mount path, longest first (so /var/lib/ballast/data wins over a shorter
    // prefix), and never over text already rewritten (a local dir under /tmp is not the /tmp mount).
    const escaped = mounts.map(({ from }) => from.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    const pattern = new RegExp(`(^|[\\s=:"'])(${escaped.join('|')})(?=/|$|[\\s"'])`, 'gm');
    return out.replace(pattern, (_whole, before: string, path: string) => `${before}${mounts.find((m) => m.from === path)?.to ?? path}`);
  }

  /** Starts one container of a placed pod with its (mapped) command, args and env. */
  start(podName: string, container: Container): LocalProcess {
    const pod = this.pods.get(podName);
    if (!pod) throw new Error(`pod ${podName} not placed`);
    const mounts = (container.volumeMounts ?? [])
      .map((m) => ({ from: m.mountPath, to: this.volumeDir(pod, m.name), name: m.name }))
      .sort((a, b) => b.from.length - a.from.length);
    for (const m of mounts) {
      mkdirSync(m.to, { recursive: true });
      const volume = (pod.template.spec.volumes ?? []).find((v) => v.name === m.name) as Record<string, Record<string, unknown>> | undefined;
      if (volume?.configMap) {
        const name = volume.configMap.name as string;
        const data = this.configMaps.get(name) ?? this.options.configMaps?.[name] ?? this.objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === name)?.data;
        if (!data) throw new Error(`ConfigMap ${name} not found`);
        for (const [file, content] of Object.entries(data)) writeFileSync(join(m.to, file), this.rewrite(content, pod, mounts));
      } else if (volume?.secret) {
        const name = volume.secret.secretName as string;
        const data = this.options.secrets?.[name];
        if (!data) throw new Error(`Secret ${name}: give its contents (the cluster's user creates it)`);
        for (const [file, content] of Object.entries(data)) writeFileSync(join(m.to, file), content, { mode: 0o600 });
      }
    }
    const env: Record<string, string> = {};
    for (const e of container.env ?? []) {
      if (e.value !== undefined) env[e.name] = this.rewrite(e.value, pod, mounts);
      else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.name') env[e.name] = pod.name;
      else if (e.valueFrom?.secretKeyRef?.optional === true) continue;
      else throw new Error(`${pod.name}/${container.name}: env ${e.name}: unsupported source`);
    }
    const words = [...(container.command ?? []), ...(container.args ?? [])].map((a) => this.rewrite(expandVars(a, env), pod, mounts));
    let argv: string[];
    if (words[0] === 'ballast') argv = [process.execPath, BALLAST, ...words.slice(1)];
    else {
      const entry = Object.entries(this.options.entrypoints ?? {}).find(([prefix]) => container.image.startsWith(prefix));
      if (!entry) throw new Error(`${pod.name}/${container.name}: no local entrypoint for image ${container.image}`);
      argv = [entry[1], ...words];
    }
    const logFile = join(this.root, 'logs', `${pod.name}-${container.name}.log`);
    mkdirSync(join(this.root, 'logs'), { recursive: true });
    const fd = openSync(logFile, 'a');
    const cwd = join(this.root, 'pod', pod.name, 'cwd');
    mkdirSync(cwd, { recursive: true });
    const fullEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: cwd, ...this.options.extraEnv, ...env };
    const child = spawn(argv[0] as string, argv.slice(1), { cwd, env: fullEnv, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
    const proc: LocalProcess = {
      pod: pod.name,
      container: container.name,
      argv,
      env,
      child,
      exited,
      log: () => readFileSync(logFile, 'utf8'),
      async stop(signal = 'SIGTERM') {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill(signal);
          const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
          const result = await exited;
          clearTimeout(timer);
          return result;
        }
        return exited;
      },
    };
    this.processes.push(proc);
    return proc;
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.stop()));
  }
}

/** Polls until `check` resolves true (or throws after `timeoutMs` with `describe()`). */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, describe: () => string): Promise<void> {
  const started = Date.now();
  for (;;) {
    if (await check()) return;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms: ${describe()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
