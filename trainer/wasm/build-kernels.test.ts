// The checked-in kernel modules must be what their sources build to (as proto/gen is for the
// proto files): a kernel edited without a rebuild would otherwise ship stale code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const haveClang = spawnSync(process.env.CLANG ?? 'clang', ['--version']).status === 0 && spawnSync('wasm-ld', ['--version']).status === 0;

test('every trainer/wasm/*.wasm is the build of its trainer/wasm/src/*.c (npm run build:kernels)', { skip: haveClang ? false : 'clang and wasm-ld (Debian clang, lld) are not installed; .ci/run installs them' }, () => {
  const sources = readdirSync(join(here, 'src')).filter((f) => f.endsWith('.c')).map((f) => f.slice(0, -2)).sort();
  const built = readdirSync(here).filter((f) => f.endsWith('.wasm')).map((f) => f.slice(0, -5)).sort();
  assert.deepEqual(built, sources, 'one trainer/wasm/NAME.wasm per trainer/wasm/src/NAME.c');
  const dir = mkdtempSync(join(tmpdir(), 'kernels-drift-'));
  try {
    execFileSync(process.execPath, [join(here, 'build-kernels.mjs'), '--out-dir', dir], { stdio: 'pipe' });
    for (const name of sources) {
      assert.ok(readFileSync(join(dir, `${name}.wasm`)).equals(readFileSync(join(here, `${name}.wasm`))), `trainer/wasm/${name}.wasm is stale: run \`npm run build:kernels\` and commit it`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
