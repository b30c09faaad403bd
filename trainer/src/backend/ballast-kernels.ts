// Ballast's own wasm kernels (trainer/wasm/src/NAME.c, built into trainer/wasm/NAME.wasm),
// instantiated on tfjs-backend-wasm's heap: each module imports tfjs's shared memory, so a kernel
// reads its inputs and writes its outputs where tfjs keeps the tensors, with no copies. tfjs's
// kernels are one op each; these fuse what training does in one pass.
//
// They run on the calling thread (the main thread): XNNPACK's pool is for the large products.
import { readFileSync } from 'node:fs';
import type { WasmBackend } from './wasm-heap.ts';

/** Shadow stack per module (a C function keeps arrays it takes the address of there). */
const STACK_BYTES = 256 * 1024;
const DATA_SECTION = 11;
const START_SECTION = 8;

const compiled = new Map<string, WebAssembly.Module>();
const instances = new WeakMap<WasmBackend, Map<string, unknown>>();

/** Section ids of a wasm binary. */
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

function compile(name: string): WebAssembly.Module {
  let module = compiled.get(name);
  if (module) return module;
  const file = new URL(`../../wasm/${name}.wasm`, import.meta.url);
  const bytes = readFileSync(file);
  const ids = sectionIds(bytes);
  // lld would place data segments (and run their initialisation) at low addresses that belong to
  // Emscripten's static data on the shared heap.
  if (ids.includes(DATA_SECTION) || ids.includes(START_SECTION)) {
    throw new Error(`${file.pathname}: has data segments or a start function, which would write over tfjs's heap; keep kernels free of static data`);
  }
  module = new WebAssembly.Module(bytes);
  compiled.set(name, module);
  return module;
}

/**
 * The exports of trainer/wasm/NAME.wasm on `backend`'s heap, instantiated once per backend. `T`
 * declares the C functions; every pointer is a byte offset on the tfjs heap.
 */
export function kernelModule<T>(backend: WasmBackend, name: string): T {
  let byName = instances.get(backend);
  if (!byName) instances.set(backend, (byName = new Map()));
  const existing = byName.get(name);
  if (existing) return existing as T;
  const memory = backend.wasm.wasmMemory;
  if (!(memory instanceof WebAssembly.Memory)) throw new Error('wasm backend: its module exposes no wasmMemory (is @tensorflow/tfjs-backend-wasm 4.22?)');
  const instance = new WebAssembly.Instance(compile(name), { env: { memory } });
  const stackBase = backend.wasm._malloc(STACK_BYTES);
  if (!stackBase) throw new Error(`wasm backend: out of memory for the stack of kernel module ${name}`);
  // lld's default stack sits in the first 64 KiB; move it into a block of our own, growing down
  // from its 16-byte-aligned top.
  (instance.exports.__stack_pointer as WebAssembly.Global).value = (stackBase + STACK_BYTES) & ~15;
  byName.set(name, instance.exports);
  return instance.exports as T;
}
