// Ballast's own wasm kernels (trainer/wasm/src/*.c, built into trainer/wasm/ballast-kernels.wasm),
// instantiated on tfjs-backend-wasm's heap: the module imports tfjs's shared memory, so a kernel
// reads its inputs and writes its outputs where tfjs keeps the tensors, with no copies. tfjs's
// kernels are one op each; these fuse what training does in one pass (GELU and its gradient, ...).
//
// They run on the calling thread (the main thread): XNNPACK's pool is for the large products.
import { readFileSync } from 'node:fs';
import type { WasmBackend } from './wasm-heap.ts';

const WASM_FILE = new URL('../../wasm/ballast-kernels.wasm', import.meta.url);

/** The C functions; every pointer is a byte offset on the tfjs heap. */
export interface BallastKernels {
  gelu_forward(out: number, x: number, n: number): void;
  gelu_backward(dx: number, dy: number, x: number, n: number): void;
}

/** Shadow stack for the kernels (a C function keeps arrays it takes the address of there). */
const STACK_BYTES = 256 * 1024;

let compiled: WebAssembly.Module | undefined;
const instances = new WeakMap<WasmBackend, BallastKernels>();

/** Section ids of a wasm binary (a module with data segments would write them over tfjs's heap). */
function sectionIds(bytes: Uint8Array): number[] {
  const ids: number[] = [];
  let p = 8;
  while (p < bytes.length) {
    ids.push(bytes[p++] as number);
    let size = 0;
    let shift = 0;
    let byte: number;
    do {
      byte = bytes[p++] as number;
      size += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    } while (byte & 0x80);
    p += size;
  }
  return ids;
}

function compile(): WebAssembly.Module {
  if (compiled) return compiled;
  const bytes = readFileSync(WASM_FILE);
  const DATA = 11;
  const START = 8;
  const ids = sectionIds(bytes);
  if (ids.includes(DATA) || ids.includes(START)) {
    throw new Error(`${WASM_FILE.pathname}: has data segments or a start function, which would write over tfjs's heap; keep the kernels free of static data`);
  }
  compiled = new WebAssembly.Module(bytes);
  return compiled;
}

/** The kernels on `backend`'s heap (instantiated once per backend). */
export function ballastKernels(backend: WasmBackend): BallastKernels {
  let kernels = instances.get(backend);
  if (kernels) return kernels;
  const memory = backend.wasm.wasmMemory;
  if (!(memory instanceof WebAssembly.Memory)) throw new Error('wasm backend: its module exposes no wasmMemory (is @tensorflow/tfjs-backend-wasm 4.22?)');
  const instance = new WebAssembly.Instance(compile(), { env: { memory } });
  const stackBase = backend.wasm._malloc(STACK_BYTES);
  if (!stackBase) throw new Error('wasm backend: out of memory for the Ballast kernels\' stack');
  // The stack grows down from its top; keep it 16-byte aligned.
  (instance.exports.__stack_pointer as WebAssembly.Global).value = (stackBase + STACK_BYTES) & ~15;
  kernels = instance.exports as unknown as BallastKernels;
  instances.set(backend, kernels);
  return kernels;
}
