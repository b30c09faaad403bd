// Offline checks of the Kubernetes manifests: render with `kubectl kustomize`, validate each object
// against the Kubernetes schemas (kubernetes-models), and parse a container's command line with the
// real `ballast` commander program in a dry mode (every action replaced by a capture).
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { parseAllDocuments } from 'yaml';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const K8S = join(REPO, 'k8s');

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
  [key: string]: unknown;
}

export function kubectlSkipReason(): string | false {
  const probe = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
  return probe.status === 0 ? false : 'kubectl not installed (apt-get install kubernetes-client; .ci/run does it)';
}

export function parseManifests(text: string, source: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((doc, i) => {
      if (doc.errors.length > 0) throw new Error(`${source}: document ${i + 1}: ${doc.errors[0]?.message}`);
      return doc.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null);
}

/** `kubectl kustomize <dir>` (dir relative to k8s/), parsed. */
export function kustomize(dir: string): K8sObject[] {
  const text = execFileSync('kubectl', ['kustomize', join(K8S, dir)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return parseManifests(text, `kubectl kustomize k8s/${dir}`);
}

/** The kubernetes-models class for an object's apiVersion and kind, or undefined (CRDs). */
export async function modelClass(object: K8sObject): Promise<(new (data: unknown) => { validate(): void }) | undefined> {
  const [group, version] = object.apiVersion.includes('/') ? object.apiVersion.split('/') : ['', object.apiVersion];
  const path = group === '' ? `kubernetes-models/${version}` : `kubernetes-models/${group}/${version}`;
  let module: Record<string, unknown>;
  try {
    module = (await import(path)) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  return module[object.kind] as (new (data: unknown) => { validate(): void }) | undefined;
}

export interface PodTemplateRef {
  owner: K8sObject;
  template: { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec: PodSpec };
}

export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: Record<string, Record<string, unknown>> }>;
  ports?: Array<{ name?: string; containerPort: number }>;
  volumeMounts?: Array<{ name: string; mountPath: string; readOnly?: boolean }>;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  resources?: { requests?: Record<string, unknown>; limits?: Record<string, unknown> };
  securityContext?: Record<string, unknown>;
}

export interface Probe {
  grpc?: { port: number };
  httpGet?: { port: number | string; path?: string };
  tcpSocket?: { port: number | string };
}

export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  volumes?: Array<{ name: string; [key: string]: unknown }>;
  securityContext?: Record<string, unknown>;
  terminationGracePeriodSeconds?: number;
  serviceAccountName?: string;
}

/** Pod templates of Deployments, StatefulSets and Jobs. */
export function podTemplates(objects: K8sObject[]): PodTemplateRef[] {
  return objects
    .filter((o) => ['Deployment', 'StatefulSet', 'Job', 'DaemonSet'].includes(o.kind))
    .map((o) => ({ owner: o, template: (o.spec as { template: PodTemplateRef['template'] }).template }));
}

/** Kubernetes' `$(VAR)` expansion of command and args from the container's env. */
export function expandVars(value: string, env: Record<string, string>): string {
  return value.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name: string) => env[name] ?? whole);
}

const SUBCOMMANDS = {
  coordinator: () => import('../../coordinator/src/cli/coordinator-command.ts'),
  trainer: () => import('../../trainer/src/cli/trainer-command.ts'),
  submit: () => import('../../coordinator/src/cli/submit-command.ts'),
  download: () => import('../../trainer/src/cli/download-command.ts'),
} as const;

export interface ParsedInvocation {
  /** e.g. `coordinator`, `download model`. */
  command: string;
  opts: Record<string, unknown>;
  args: string[];
}

/**
 * Parses `ballast ARGS` with the real subcommand definitions; nothing runs. Throws the commander
 * error (unknown option, missing argument or required option) otherwise.
 */
export async function parseBallast(argv: string[]): Promise<ParsedInvocation> {
  const program = new Command('ballast').exitOverride();
  for (const load of Object.values(SUBCOMMANDS)) (await load()).register(program);
  let captured: ParsedInvocation | undefined;
  const silence = (command: Command, path: string[]) => {
    command.exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
    for (const sub of command.commands) {
      const subPath = [...path, sub.name()];
      silence(sub, subPath);
      if (sub.commands.length === 0) {
        sub.action((...actionArgs: unknown[]) => {
          const self = actionArgs[actionArgs.length - 1] as Command;
          captured = { command: subPath.join(' '), opts: self.opts(), args: self.args };
        });
      }
    }
  };
  silence(program, []);
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) throw new Error(`ballast ${argv.join(' ')}: ${error.message}`);
    throw error;
  }
  if (!captured) throw new Error(`ballast ${argv.join(' ')}: no subcommand ran`);
  return captured;
}
