#!/usr/bin/env node
// Builds trainer/wasm/ballast-kernels.wasm from trainer/wasm/src/*.c with clang's wasm32 target.
//
// The module runs on tfjs-backend-wasm's own heap: it imports that module's shared memory and
// reads and writes tensors where tfjs keeps them, so a fused kernel costs no copies. Hence the
// flags: shared memory up to 4 GiB (what the threaded tfjs build declares), no libc, no entry
// point, and the shadow-stack pointer exported so that the loader can point it at a block it
// allocates on the tfjs heap (lld would otherwise put the stack in the first 64 KiB, which
// belong to Emscripten's static data). The loader also refuses a module with data segments.
//
// The .wasm is checked in (like proto/gen), so neither users nor CI need clang; the test
// build-kernels.test.ts rebuilds it and fails when it differs from the sources.
//
//   node trainer/wasm/build-kernels.mjs [--out FILE]     (npm run build:kernels)
import { execFileSync } from 'node:child_process';
import { readdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const outIndex = process.argv.indexOf('--out');
const out = outIndex > 0 ? process.argv[outIndex + 1] : join(here, 'ballast-kernels.wasm');
const clang = process.env.CLANG ?? 'clang';

const sources = readdirSync(join(here, 'src')).filter((f) => f.endsWith('.c')).sort();
const work = mkdtempSync(join(tmpdir(), 'ballast-kernels-'));
try {
  execFileSync(clang, [
    '--target=wasm32', '-O3', '-ffast-math', '-fno-finite-math-only', '-msimd128', '-matomics', '-mbulk-memory', '-mmutable-globals',
    '-nostdlib', '-ffreestanding', '-fno-builtin', '-Wall', '-Wextra', '-Werror',
    // Paths out of the binary, so that a build in another checkout is byte-identical.
    `-ffile-prefix-map=${here}=.`,
    '-Wl,--no-entry', '-Wl,--import-memory', '-Wl,--shared-memory', '-Wl,--max-memory=4294967296',
    '-Wl,--export=__stack_pointer', '-Wl,--strip-all',
    '-o', out, ...sources.map((s) => join(here, 'src', s)),
  ], { stdio: 'inherit', cwd: work });
} finally {
  rmSync(work, { recursive: true, force: true });
}
