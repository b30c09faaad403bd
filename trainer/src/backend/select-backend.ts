// Chooses the tfjs backend a trainer runs on, once per process, and describes it for every result.
//
// Automatic order: @tensorflow/tfjs-node-gpu (CUDA), @tensorflow/tfjs-node (libtensorflow on CPU),
// @tensorflow/tfjs-backend-wasm (XNNPACK, SIMD, threads), the pure-JS cpu backend. The two
// tfjs-node packages are optional dependencies that GPU images install; where they are absent (or
// cannot load their native library) the next candidate is taken. `BALLAST_BACKEND` or `--backend`
// names one backend instead, and then a backend that cannot load is an error, never a silent
// fallback to something 30x slower. wasm's thread count comes from `BALLAST_WASM_THREADS` (default:
// one per core).
import { cpus } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import type { Logger } from 'pino';
import { ConfigError } from '../config/trial-config.ts';
import type { BackendInfo } from '../train/trial-result.ts';
import { registerWasmKernels } from './register-wasm-kernels.ts';

export interface InitBackendOptions {
  /** A backend name or package (see BACKENDS); default `BALLAST_BACKEND`, else automatic. */
  override?: string;
  /** wasm thread-pool size; default `BALLAST_WASM_THREADS`, else one per core. */
  threads?: number;
  log?: Logger;
}

interface Candidate {
  /** The name users write: `tensorflow-gpu`, `tensorflow`, `wasm`, `cpu`. */
  key: string;
  package: string;
  /** The tfjs backend it registers. */
  backendName: string;
  device: 'gpu' | 'cpu';
}

/** In automatic order. */
export const BACKENDS: readonly Candidate[] = [
  { key: 'tensorflow-gpu', package: '@tensorflow/tfjs-node-gpu', backendName: 'tensorflow', device: 'gpu' },
  { key: 'tensorflow', package: '@tensorflow/tfjs-node', backendName: 'tensorflow', device: 'cpu' },
  { key: 'wasm', package: '@tensorflow/tfjs-backend-wasm', backendName: 'wasm', device: 'cpu' },
  { key: 'cpu', package: '@tensorflow/tfjs-backend-cpu', backendName: 'cpu', device: 'cpu' },
];

// tfjs's engine is process-wide, so the choice is too: the first call initialises, later calls get
// the same answer (and a different explicit request is an error rather than a silent switch).
let active: { request: string | undefined; info: Promise<BackendInfo> } | undefined;

export async function initBackend(options: InitBackendOptions = {}): Promise<BackendInfo> {
  const source = options.override !== undefined ? '--backend' : 'BALLAST_BACKEND';
  const raw = options.override ?? process.env.BALLAST_BACKEND;
  const request = raw === undefined || raw.trim() === '' ? undefined : raw.trim();
  // Everything up to the first await runs synchronously, so concurrent first calls share `active`.
  if (active) {
    if (request === undefined || request === active.request) return active.info;
    const wanted = findCandidate(request, source);
    const info = await active.info;
    if (wanted.package === info.package) return info;
    throw new ConfigError(source, `backend '${request}' requested, but this process already runs on '${info.name}' (${info.package})`);
  }
  const info = select(request, source, options);
  active = { request, info };
  try {
    return await info;
  } catch (error) {
    // A failed initialisation may be retried (e.g. with another override).
    if (active?.info === info) active = undefined;
    throw error;
  }
}

function findCandidate(request: string, source: string): Candidate {
  const c = BACKENDS.find((b) => b.key === request || b.package === request);
  if (!c) {
    throw new ConfigError(source, `unknown backend '${request}' (expected one of ${BACKENDS.map((b) => b.key).join(', ')}, or a package name)`);
  }
  return c;
}

async function select(request: string | undefined, source: string, options: InitBackendOptions): Promise<BackendInfo> {
  const log = options.log;
  // Checked before anything loads: a bad thread count must not turn into a fallback to cpu.
  const threads = wasmThreads(options.threads);
  if (request !== undefined) {
    const candidate = findCandidate(request, source);
    try {
      const info = await load(candidate, 'override', threads);
      log?.info({ backend: info, source }, `tfjs backend ${info.name} (${info.package}), as requested`);
      return info;
    } catch (error) {
      throw new ConfigError(source, `backend '${request}' (${candidate.package}) cannot be loaded: ${errorText(error)}`);
    }
  }
  for (const candidate of BACKENDS) {
    try {
      const info = await load(candidate, 'auto', threads);
      log?.info({ backend: info }, `tfjs backend ${info.name} (${info.package})`);
      return info;
    } catch (error) {
      // Absent optional packages are the normal case off the GPU images; anything else is worth a warning.
      const absent = (error as { code?: string }).code === 'ERR_MODULE_NOT_FOUND';
      log?.[absent ? 'debug' : 'warn']({ package: candidate.package, err: errorText(error) }, `tfjs backend ${candidate.key} unavailable`);
    }
  }
  throw new Error('no tfjs backend could be loaded (not even @tensorflow/tfjs-backend-cpu)');
}

async function load(c: Candidate, chosenBy: BackendInfo['chosen_by'], wasmThreadCount: number): Promise<BackendInfo> {
  const pkg: string = c.package; // a variable: the optional packages have no types here
  const mod = (await import(pkg)) as Record<string, unknown>;
  let threads = 1;
  if (c.key === 'wasm') {
    (mod.setThreadsCount as (n: number) => void)(wasmThreadCount);
    registerWasmKernels();
  }
  if (!(await tf.setBackend(c.backendName))) throw new Error(`tf.setBackend('${c.backendName}') failed`);
  await tf.ready();
  if (c.key === 'wasm') threads = (mod.getThreadsCount as () => number)();
  // TensorFlow's intra-op pool defaults to one thread per core.
  else if (c.backendName === 'tensorflow') threads = cpus().length;
  return { name: c.backendName, package: c.package, device: c.device, threads, chosen_by: chosenBy };
}

function wasmThreads(option: number | undefined): number {
  if (option !== undefined) {
    if (!Number.isInteger(option) || option < 1) throw new ConfigError('threads', `must be a positive integer, got ${option}`);
    return option;
  }
  const env = process.env.BALLAST_WASM_THREADS;
  if (env === undefined || env.trim() === '') return cpus().length;
  const n = Number(env);
  if (!Number.isInteger(n) || n < 1) throw new ConfigError('BALLAST_WASM_THREADS', `must be a positive integer, got '${env}'`);
  return n;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
