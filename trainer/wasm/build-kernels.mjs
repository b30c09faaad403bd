#!/usr/bin/env node
// Builds one wasm module per C file, trainer/wasm/src/NAME.c -> trainer/wasm/NAME.wasm, with clang's
// wasm32 target (one module per kernel family keeps each small and lets them change apart).
//
// The module runs on tfjs-backend-wasm's own heap: it imports that module's shared memory and
// reads and writes tensors where tfjs keeps them, so a fused kernel costs no copies. Hence the
// flags: shared memory up to 4 GiB (what the threaded tfjs build declares), no libc, no entry
// point, and the shadow-stack pointer exported so that the loader can point it at a block it
// allocates on the tfjs heap (lld would otherwise put the stack in the first 64 KiB, which
// belong to Emscripten's static data). The loader also refuses a module with data segments.
//
// The .wasm files are checked in (like proto/gen), so neither users nor CI need clang; the test
// build-kernels.test.ts rebuilds them and fails when one differs from its source.
//
//   node trainer/wasm/build-kernels.mjs [--out-dir DIR] [NAME ...]     (npm run build:kernels)
import { execFileSync } from 'node:child_process';
import { readdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const outDirIndex = args.indexOf('--out-dir');
const outDir = outDirIndex >= 0 ? args.splice(outDirIndex, 2)[1] : here;
const clang = process.env.CLANG ?? 'clang';

const names = args.length > 0 ? args : readdirSync(join(here, 'src')).filter((f) => f.endsWith('.c')).map((f) => f.slice(0, -2)).sort();
const work = mkdtempSync(join(tmpdir(), 'ballast-kernels-'));
try {
  for (const name of names) {
    execFileSync(clang, [
      '--target=wasm32', '-O3', '-ffast-math', '-fno-finite-math-only', '-msimd128', '-matomics', '-mbulk-memory', '-mmutable-globals',
      '-nostdlib', '-ffreestanding', '-fno-builtin', '-Wall', '-Wextra', '-Werror',
      // Paths out of the binary, so that a build in another checkout is byte-identical.
      `-ffile-prefix-map=${here}=.`,
      '-Wl,--no-entry', '-Wl,--import-memory', '-Wl,--shared-memory', '-Wl,--max-memory=4294967296',
      '-Wl,--export=__stack_pointer', '-Wl,--strip-all',
      '-o', join(outDir, `${name}.wasm`), join(here, 'src', `${name}.c`),
    ], { stdio: 'inherit', cwd: work });
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
