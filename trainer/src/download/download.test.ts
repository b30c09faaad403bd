import { test } from 'node:test';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { readGlueTask } from '../data/glue-tasks.ts';
import { ChecksumMismatchError, downloadFile, headFile } from './download-file.ts';
import { downloadGlue, formatScore } from './download-glue.ts';
import { UnsupportedCheckpointError, downloadModel } from './download-model.ts';
import { resolveUrl } from './hub-endpoint.ts';
import { sha256, startFakeHub } from './fake-hub.ts';
import type { FakeHub } from './fake-hub.ts';

function setup(t: { after(fn: () => unknown): void }): Promise<{ hub: FakeHub; root: string }> {
  const root = mkdtempSync(join(tmpdir(), 'ballast-dl-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  return startFakeHub().then((hub) => {
    t.after(() => hub.close());
    return { hub, root };
  });
}

const weights = Buffer.alloc(300_000);
for (let i = 0; i < weights.length; i++) weights[i] = (i * 2654435761) >>> 24;

function hostModel(hub: FakeHub, repo: string, options: { safetensors?: boolean } = {}): void {
  hub.add('model', repo, 'config.json', JSON.stringify({ model_type: 'bert', hidden_size: 8 }));
  hub.add('model', repo, 'vocab.txt', '[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n');
  hub.add('model', repo, 'tokenizer_config.json', JSON.stringify({ do_lower_case: true }));
  if (options.safetensors !== false) hub.add('model', repo, 'model.safetensors', weights, { lfs: true });
  else hub.add('model', repo, 'pytorch_model.bin', weights, { lfs: true });
}

test('hub URLs follow huggingface_hub: resolve/<revision>/<file>, datasets prefix, encoded revision', () => {
  const hub = { endpoint: 'https://mirror.example/' };
  assert.equal(resolveUrl('bert-base-uncased', 'main', 'config.json', 'model', hub), 'https://mirror.example/bert-base-uncased/resolve/main/config.json');
  assert.equal(
    resolveUrl('nyu-mll/glue', 'refs/convert/parquet', 'rte/train-00000-of-00001.parquet', 'dataset', hub),
    'https://mirror.example/datasets/nyu-mll/glue/resolve/refs%2Fconvert%2Fparquet/rte/train-00000-of-00001.parquet',
  );
});

test('a model downloads into <root>/models/<repo> with every file checked (sha256 for LFS, git sha1 otherwise)', async (t) => {
  const { hub, root } = await setup(t);
  hostModel(hub, 'google-bert/bert-tiny');
  hub.requireToken('secret');
  const result = await downloadModel('google-bert/bert-tiny', { root, hub: { endpoint: hub.endpoint, token: 'secret' } });
  const dir = join(root, 'models', 'google-bert', 'bert-tiny');
  assert.equal(result.dir, dir);
  assert.deepEqual(readFileSync(join(dir, 'model.safetensors')), weights);
  assert.ok(result.files.every((f) => f.verified), 'every file verified');
  assert.deepEqual(result.files.map((f) => f.path.slice(dir.length + 1)).sort(), ['config.json', 'model.safetensors', 'tokenizer_config.json', 'vocab.txt']);
  assert.ok(!existsSync(join(dir, 'model.safetensors.part')));
  // The token went to the hub, never to the CDN host of the LFS redirect... (same host here, so
  // check the hub's own requests carried it).
  assert.ok(hub.requests.filter((r) => r.url.includes('/resolve/')).every((r) => r.authorization === 'Bearer secret'));

  // A second run finds everything in place and fetches nothing.
  const again = await downloadModel('google-bert/bert-tiny', { root, hub: { endpoint: hub.endpoint, token: 'secret' } });
  assert.ok(again.files.every((f) => !f.fetched && f.verified));
});

test('without the token a gated repository says what to do', async (t) => {
  const { hub, root } = await setup(t);
  hostModel(hub, 'org/gated');
  hub.requireToken('secret');
  await assert.rejects(downloadModel('org/gated', { root, hub: { endpoint: hub.endpoint, token: '' } }), /HTTP 401.*gated or private.*HF_TOKEN/);
});

test('a repository with only pytorch_model.bin is refused with a clear reason', async (t) => {
  const { hub, root } = await setup(t);
  hostModel(hub, 'old/bert', { safetensors: false });
  await assert.rejects(downloadModel('old/bert', { root, hub: { endpoint: hub.endpoint } }), (error: unknown) => {
    assert.ok(error instanceof UnsupportedCheckpointError);
    assert.match(error.message, /only pytorch_model\.bin.*safe_serialization=True/);
    return true;
  });
});

test('an interrupted download keeps its .part and the next run resumes it with a Range request', async (t) => {
  const { hub, root } = await setup(t);
  hub.add('model', 'm', 'model.safetensors', weights, { lfs: true });
  const remote = (await headFile(resolveUrl('m', 'main', 'model.safetensors', 'model', { endpoint: hub.endpoint })))!;
  assert.equal(remote.size, weights.length);
  assert.deepEqual(remote.checksum, { algorithm: 'sha256', hex: sha256(weights) });
  const dest = join(root, 'model.safetensors');
  hub.interruptNextAfter(100_000);
  await assert.rejects(downloadFile(remote, dest, { attempts: 1 }), /interrupted after 100000 bytes.*resume/);
  assert.equal(statSync(`${dest}.part`).size, 100_000);
  assert.ok(!existsSync(dest), 'nothing under the final name until verified');

  const seen: number[] = [];
  const result = await downloadFile(remote, dest, { onProgress: (p) => seen.push(p.received) });
  assert.equal(result.resumedFrom, 100_000);
  assert.ok(result.verified);
  assert.deepEqual(readFileSync(dest), weights);
  assert.equal(hub.requests.filter((r) => r.range).at(-1)!.range, 'bytes=100000-');
  assert.equal(seen.at(-1), weights.length);
  assert.ok(seen[0]! > 100_000, 'progress counts the resumed bytes');
});

test('within one run a dropped connection is resumed automatically', async (t) => {
  const { hub, root } = await setup(t);
  hub.add('model', 'm', 'model.safetensors', weights, { lfs: true });
  const remote = (await headFile(resolveUrl('m', 'main', 'model.safetensors', 'model', { endpoint: hub.endpoint })))!;
  hub.interruptNextAfter(50_000);
  const result = await downloadFile(remote, join(root, 'w'), { attempts: 3 });
  assert.ok(result.verified);
  assert.deepEqual(readFileSync(join(root, 'w')), weights);
});

test('a checksum mismatch fails loudly and leaves no file behind', async (t) => {
  const { hub, root } = await setup(t);
  hub.add('model', 'm', 'model.safetensors', weights, { lfs: true });
  const altered = Buffer.from(weights);
  altered[1234] = altered[1234]! ^ 0xff;
  hub.corrupt('model', 'm', 'model.safetensors', altered);
  hub.add('model', 'm', 'vocab.txt', 'a\nb\n');
  hub.corrupt('model', 'm', 'vocab.txt', Buffer.from('a\nc\n'));
  const dest = join(root, 'model.safetensors');
  const remote = (await headFile(resolveUrl('m', 'main', 'model.safetensors', 'model', { endpoint: hub.endpoint })))!;
  await assert.rejects(downloadFile(remote, dest), (error: unknown) => {
    assert.ok(error instanceof ChecksumMismatchError);
    assert.equal(error.expected.hex, sha256(weights));
    assert.match(error.message, /sha256 .* but the hub announced .*deleted/);
    return true;
  });
  assert.ok(!existsSync(dest) && !existsSync(`${dest}.part`));
  // Git files are checked against their blob sha1.
  const vocab = (await headFile(resolveUrl('m', 'main', 'vocab.txt', 'model', { endpoint: hub.endpoint })))!;
  assert.equal(vocab.checksum!.algorithm, 'git-sha1');
  await assert.rejects(downloadFile(vocab, join(root, 'vocab.txt')), ChecksumMismatchError);
});

test('a damaged file already in place is fetched again', async (t) => {
  const { hub, root } = await setup(t);
  hub.add('model', 'm', 'model.safetensors', weights, { lfs: true });
  const dest = join(root, 'model.safetensors');
  const altered = Buffer.from(weights);
  altered[7] = altered[7]! ^ 1;
  writeFileSync(dest, altered);
  const remote = (await headFile(resolveUrl('m', 'main', 'model.safetensors', 'model', { endpoint: hub.endpoint })))!;
  const result = await downloadFile(remote, dest);
  assert.ok(result.fetched && result.verified);
  assert.deepEqual(readFileSync(dest), weights);
});

test('STS-B float32 scores are written as their shortest decimals', () => {
  assert.equal(formatScore(Math.fround(0.6)), '0.6');
  assert.equal(formatScore(Math.fround(3.8)), '3.8');
  assert.equal(formatScore(5), '5');
  assert.equal(formatScore(Math.fround(1.333)), '1.333');
});

function parquet(columns: Record<string, unknown[]>, types: Record<string, 'STRING' | 'INT64' | 'FLOAT' | 'INT32'>): Buffer {
  // The hub stores ClassLabel ids as int64, which the writer takes as BigInt.
  const columnData = Object.entries(columns).map(([name, data]) => ({ name, data: types[name] === 'INT64' ? data.map((v) => BigInt(v as number)) : data, type: types[name]! }));
  return Buffer.from(parquetWriteBuffer({ columnData: columnData as never }));
}

test('GLUE from the hub parquet becomes the tsv layout the presets read (RTE, CoLA, STS-B)', async (t) => {
  const { hub, root } = await setup(t);
  // RTE: two shards of train, to check they are concatenated in order; a tab inside a sentence.
  hub.add('dataset', 'nyu-mll/glue', 'rte/train-00000-of-00002.parquet', parquet({ sentence1: ['A dog runs.', 'It\train\ted.'], sentence2: ['An animal moves.', 'It is dry.'], label: [0, 1], idx: [0, 1] }, { sentence1: 'STRING', sentence2: 'STRING', label: 'INT64', idx: 'INT32' }), { lfs: true });
  hub.add('dataset', 'nyu-mll/glue', 'rte/train-00001-of-00002.parquet', parquet({ sentence1: ['"Quoted" text.'], sentence2: ['Text.'], label: [0], idx: [2] }, { sentence1: 'STRING', sentence2: 'STRING', label: 'INT64', idx: 'INT32' }), { lfs: true });
  hub.add('dataset', 'nyu-mll/glue', 'rte/validation-00000-of-00001.parquet', parquet({ sentence1: ['X.', 'Y.'], sentence2: ['Z.', 'W.'], label: [1, 0], idx: [0, 1] }, { sentence1: 'STRING', sentence2: 'STRING', label: 'INT64', idx: 'INT32' }), { lfs: true });
  hub.add('dataset', 'nyu-mll/glue', 'rte/test-00000-of-00001.parquet', parquet({ sentence1: ['Q.'], sentence2: ['R.'], label: [-1], idx: [0] }, { sentence1: 'STRING', sentence2: 'STRING', label: 'INT64', idx: 'INT32' }), { lfs: true });
  const rte = await downloadGlue('rte', { root, hub: { endpoint: hub.endpoint } });
  assert.deepEqual(rte.rows, { 'train.tsv': 3, 'dev.tsv': 2 });
  assert.equal(rte.sanitized, 1);
  const read = readGlueTask('rte', join(root, 'glue', 'RTE'));
  assert.deepEqual(read.train.map((e) => [e.textA, e.label]), [['A dog runs.', 0], ['It rain ed.', 1], ['"Quoted" text.', 0]]);
  assert.deepEqual(read.dev.map((e) => e.label), [1, 0]);
  assert.equal(readFileSync(join(root, 'glue', 'RTE', 'dev.tsv'), 'utf8').split('\n')[1], '0\tX.\tZ.\tnot_entailment');
  const manifest = JSON.parse(readFileSync(join(root, 'glue', 'RTE', 'SOURCE.json'), 'utf8'));
  assert.equal(manifest.repo, 'nyu-mll/glue');
  assert.equal(manifest.files.length, 3);

  hub.add('dataset', 'nyu-mll/glue', 'cola/train-00000-of-00001.parquet', parquet({ sentence: ['Good one.', 'One good the.'], label: [1, 0], idx: [0, 1] }, { sentence: 'STRING', label: 'INT64', idx: 'INT32' }));
  hub.add('dataset', 'nyu-mll/glue', 'cola/validation-00000-of-00001.parquet', parquet({ sentence: ['Fine.', 'Bad bad the.'], label: [1, 0], idx: [0, 1] }, { sentence: 'STRING', label: 'INT64', idx: 'INT32' }));
  await downloadGlue('cola', { root, hub: { endpoint: hub.endpoint } });
  assert.equal(readFileSync(join(root, 'glue', 'CoLA', 'train.tsv'), 'utf8'), 'hub\t1\t\tGood one.\nhub\t0\t*\tOne good the.\n');

  hub.add('dataset', 'nyu-mll/glue', 'stsb/train-00000-of-00001.parquet', parquet({ sentence1: ['a', 'b'], sentence2: ['c', 'd'], label: [Math.fround(4.4), 0.5], idx: [0, 1] }, { sentence1: 'STRING', sentence2: 'STRING', label: 'FLOAT', idx: 'INT32' }));
  hub.add('dataset', 'nyu-mll/glue', 'stsb/validation-00000-of-00001.parquet', parquet({ sentence1: ['e'], sentence2: ['f'], label: [Math.fround(3.8)], idx: [0] }, { sentence1: 'STRING', sentence2: 'STRING', label: 'FLOAT', idx: 'INT32' }));
  await downloadGlue('stsb', { root, hub: { endpoint: hub.endpoint } });
  const stsb = readGlueTask('sts-b', join(root, 'glue', 'STS-B'));
  assert.deepEqual(stsb.train.map((e) => e.label), [4.4, 0.5]);
  assert.deepEqual(stsb.dev.map((e) => e.label), [3.8]);
});

test('an unknown task is refused', async () => {
  await assert.rejects(downloadGlue('wnli', { root: '/nonexistent' }), /unknown GLUE task 'wnli'/);
});

test('the CLI: ballast download model / glue against HF_ENDPOINT, and pytorch_model.bin refused with exit 2', async (t) => {
  const { hub, root } = await setup(t);
  hostModel(hub, 'org/tiny');
  hostModel(hub, 'org/old', { safetensors: false });
  const cols = { sentence1: 'STRING', sentence2: 'STRING', label: 'INT64', idx: 'INT32' } as const;
  hub.add('dataset', 'nyu-mll/glue', 'rte/train-00000-of-00001.parquet', parquet({ sentence1: ['a.'], sentence2: ['b.'], label: [0], idx: [0] }, cols), { lfs: true });
  hub.add('dataset', 'nyu-mll/glue', 'rte/validation-00000-of-00001.parquet', parquet({ sentence1: ['c.'], sentence2: ['d.'], label: [1], idx: [0] }, cols), { lfs: true });
  const bin = fileURLToPath(new URL('../../../bin/ballast.mjs', import.meta.url));
  // Asynchronously: the fake hub lives in this process and must answer while the CLI runs.
  const run = (...args: string[]) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [bin, 'download', ...args, '--data-root', root], { env: { ...process.env, HF_ENDPOINT: hub.endpoint, HF_TOKEN: '' } }, (error, stdout, stderr) =>
        resolve({ status: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
  const model = await run('model', 'org/tiny');
  assert.equal(model.status, 0, model.stderr);
  assert.match(model.stdout, /org\/tiny@main -> .*models\/org\/tiny/);
  assert.match(model.stdout, /model\.safetensors \(300000 bytes, checksum ok\)/);
  const glue = await run('glue', 'rte');
  assert.equal(glue.status, 0, glue.stderr);
  assert.match(glue.stdout, /rte -> .*glue\/RTE: train\.tsv 1 rows, dev\.tsv 1 rows/);
  const old = await run('model', 'org/old');
  assert.equal(old.status, 2);
  assert.match(old.stderr, /only pytorch_model\.bin/);
});
