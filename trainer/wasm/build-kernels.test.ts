// The checked-in ballast-kernels.wasm must be what its sources build to (as proto/gen is for the
// proto files): a kernel edited without a rebuild would otherwise ship stale code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const haveClang = spawnSync(process.env.CLANG ?? 'clang', ['--version']).status === 0 && spawnSync('wasm-ld', ['--version']).status === 0;

test('ballast-kernels.wasm is the build of trainer/wasm/src (npm run build:kernels)', { skip: haveClang ? false : 'clang and wasm-ld (Debian clang, lld) are not installed; .ci/run installs them' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'kernels-drift-'));
  try {
    const out = join(dir, 'k.wasm');
    execFileSync(process.execPath, [join(here, 'build-kernels.mjs'), '--out', out], { stdio: 'pipe' });
    assert.ok(readFileSync(out).equals(readFileSync(join(here, 'ballast-kernels.wasm'))), 'trainer/wasm/ballast-kernels.wasm is stale: run `npm run build:kernels` and commit it');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
