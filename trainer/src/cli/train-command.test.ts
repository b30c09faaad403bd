// `ballast train` end to end, as a user runs it: the real bin, a tiny checkpoint and task on disk.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { writeTinyTrial } from '../train/tiny-trial.ts';

const BIN = fileURLToPath(new URL('../../../bin/ballast.mjs', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'ballast-train-cli-'));
const tiny = writeTinyTrial(join(tmp, 'data'));

function ballast(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, BALLAST_BACKEND: 'cpu' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function trialFile(name: string, content: string | object): string {
  const path = join(tmp, name);
  writeFileSync(path, typeof content === 'string' ? content : stringify(content));
  return path;
}

test('trains, writes metrics.jsonl, result.json and checkpoint/, prints a summary and plain progress lines', async () => {
  const out = join(tmp, 'run');
  const trial = trialFile('trial.yaml', { ...tiny.config, max_steps: 10, num_evals: 2 });
  const r = await ballast(['train', trial, '--out', out, '--data-root', tiny.root, '--backend', 'cpu']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /selected step \d+: validation loss/);
  assert.match(r.stderr, /step 1\/10 loss \d/);
  assert.match(r.stderr, /eval step 10\/10/);
  const result = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'));
  assert.equal(result.steps_completed, 10);
  assert.equal(result.backend.name, 'cpu');
  const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n');
  assert.equal(lines.filter((l) => JSON.parse(l).type === 'step').length, 10);
  for (const f of ['config.json', 'model.safetensors', 'vocab.txt']) assert.ok(existsSync(join(out, 'checkpoint', f)), f);

  // A second run into the same directory would overwrite results: refused unless asked.
  const again = await ballast(['train', trial, '--out', out, '--data-root', tiny.root]);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /result\.json exists.*--overwrite/);
});

test('bad input: exit 2 with one clear line naming the file, line or key', async () => {
  const out = join(tmp, 'bad');
  const cases: Array<[string[], RegExp]> = [
    [['train', join(tmp, 'missing.yaml'), '--out', out], /missing\.yaml: no such file/],
    [['train', trialFile('syntax.yaml', 'model: m\ntask: [rte\n'), '--out', out], /syntax\.yaml:\d+:\d+: /],
    [['train', trialFile('key.yaml', { ...tiny.config, task: { ...(tiny.config.task as object), labl_column: 'x' } }), '--out', out], /key\.yaml: task\.labl_column: unknown key/],
    [['train', trialFile('value.yaml', { ...tiny.config, optimizer: 'sgd' }), '--out', out], /value\.yaml: optimizer: /],
  ];
  for (const [args, pattern] of cases) {
    const r = await ballast([...args, '--data-root', tiny.root]);
    assert.equal(r.code, 2, `${args[1]}: ${r.stderr}`);
    assert.match(r.stderr, pattern);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
});

test('a checkpoint without weights and a bad data row are usage errors, not stacks', async () => {
  const broken = join(tmp, 'data', 'broken-model');
  mkdirSync(broken, { recursive: true });
  writeFileSync(join(broken, 'config.json'), readFileSync(join(tiny.checkpoint, 'config.json')));
  const r1 = await ballast(['train', trialFile('nomodel.yaml', { ...tiny.config, model: 'broken-model' }), '--out', join(tmp, 'o1'), '--data-root', tiny.root]);
  assert.equal(r1.code, 2, r1.stderr);
  assert.match(r1.stderr, /broken-model: no model\.safetensors/);
  assert.doesNotMatch(r1.stderr, /\n\s+at /);

  writeFileSync(join(tiny.root, 'bad-train.jsonl'), '{"text": "a b", "label": "early"}\n{"text": "c d", "label": "middle"}\n');
  const task = { ...(tiny.config.task as object), train: 'bad-train.jsonl' };
  const r2 = await ballast(['train', trialFile('baddata.yaml', { ...tiny.config, task }), '--out', join(tmp, 'o2'), '--data-root', tiny.root]);
  assert.equal(r2.code, 2, r2.stderr);
  assert.match(r2.stderr, /bad-train\.jsonl:2: /);
  rmSync(join(tiny.root, 'bad-train.jsonl'));
});

test('Ctrl-C stops at the next update boundary: exit 130, the metrics so far kept, no result.json', async () => {
  const out = join(tmp, 'interrupted');
  const trial = trialFile('long.yaml', { ...tiny.config, max_steps: 100000, num_evals: 0 });
  const child = spawn(process.execPath, [BIN, 'train', trial, '--out', out, '--data-root', tiny.root], { env: { ...process.env, BALLAST_BACKEND: 'cpu' } });
  let stderr = '';
  const code = await new Promise<number | null>((resolve) => {
    child.stderr.on('data', (d) => {
      stderr += d;
      // The first progress line means training runs: interrupt it mid-trial.
      if (/step 1\/100000/.test(stderr) && !child.killed) child.kill('SIGINT');
    });
    child.on('close', resolve);
  });
  assert.equal(code, 130, stderr);
  assert.match(stderr, /trial cancelled at step \d+: SIGINT/);
  const steps = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n');
  assert.ok(steps.length >= 1 && steps.length < 100000);
  assert.ok(!existsSync(join(out, 'result.json')));
});
