// The command table loads only the invoked command's module: a long-lived `ballast coordinator`
// must not carry TensorFlow.js (the trainer's) in its heap, which every full GC has to mark.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Runs `ballast ARGS` through main() in a fresh process; says whether TensorFlow.js got loaded. */
function loadsTensorFlow(args: string[]): { tf: boolean; stdout: string } {
  const script = `
    const { main } = await import('./cli/main.ts');
    await main(${JSON.stringify(args)});
    process.stderr.write('TF=' + ('_tfengine' in globalThis));
  `;
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
  const flag = /TF=(true|false)/.exec(run.stderr);
  assert.ok(flag, `no probe output: ${run.stderr}`);
  return { tf: flag[1] === 'true', stdout: run.stdout };
}

test('ballast coordinator does not load TensorFlow.js; ballast trainer does (the probe sees it)', () => {
  const coordinator = loadsTensorFlow(['coordinator', '--help']);
  assert.match(coordinator.stdout, /Usage: ballast coordinator/);
  assert.equal(coordinator.tf, false);
  assert.equal(loadsTensorFlow(['trainer', '--help']).tf, true);
});

test('ballast --help still lists every command', () => {
  const { stdout } = loadsTensorFlow(['--help']);
  for (const name of ['run', 'train', 'coordinator', 'submit', 'status', 'watch', 'cancel', 'results', 'report', 'backend', 'trainer', 'download']) {
    assert.match(stdout, new RegExp(`^  ${name} `, 'm'), name);
  }
});
