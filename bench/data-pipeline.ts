// Throughput of the data path on the real GLUE files: reading the tables, tokenising and encoding
// every example (bert-base-uncased vocabulary), and assembling padded batches. References run in
// the same script on the same texts:
// - tokenisation: the independent Python WordPiece of trainer/src/data/testdata (the algorithm of
//   transformers' slow BertTokenizer), when /usr/bin/python3 exists;
// - padding: the tokens a batch holds padded to its longest sequence against padded to
//   max_seq_length, i.e. the share of the model's work that dynamic padding saves.
//
//   node --import tsx bench/data-pipeline.ts [--data ../shared/data] [--max-seq-length 128] [--batch-size 32]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { TaskConfigSchema } from '../trainer/src/config/trial-config.ts';
import { encodeSplit, trainBatches } from '../trainer/src/data/batches.ts';
import { loadTask } from '../trainer/src/data/load-task.ts';
import { BertTokenizer, readVocab } from '../trainer/src/data/tokenizer.ts';

const here = fileURLToPath(new URL('.', import.meta.url));
const { values } = parseArgs({
  options: {
    data: { type: 'string', default: resolve(here, '../../shared/data') },
    'max-seq-length': { type: 'string', default: '128' },
    'batch-size': { type: 'string', default: '32' },
  },
});
const dataRoot = values.data;
const maxSeqLength = Number(values['max-seq-length']);
const batchSize = Number(values['batch-size']);
const vocabFile = join(dataRoot, 'vocab-bert-base-uncased/vocab.txt');
if (!existsSync(vocabFile) || !existsSync(join(dataRoot, 'glue'))) {
  console.error(`needs the real GLUE files and vocabulary under ${dataRoot} (--data)`);
  process.exit(2);
}

const tokenizer = BertTokenizer.fromVocab(readVocab(vocabFile), { source: vocabFile });
const seconds = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e9;

console.log(`data pipeline on ${dataRoot}: max_seq_length ${maxSeqLength}, batch ${batchSize}, node ${process.version}`);
console.log('task   rows(train)  read ms  encode s  texts/s   tokens/s   truncated  pad-to-longest/pad-to-max');
const allTexts: string[] = [];
let totalTexts = 0;
let totalEncodeSeconds = 0;
for (const name of ['rte', 'mrpc', 'cola', 'sts-b', 'sst-2'] as const) {
  let start = process.hrtime.bigint();
  const data = loadTask(TaskConfigSchema.parse({ name }), { root: dataRoot });
  const readMs = seconds(start) * 1000;
  const examples = data.train.examples;
  start = process.hrtime.bigint();
  const split = encodeSplit(tokenizer, examples, maxSeqLength, data.spec.problemType);
  const encodeSeconds = seconds(start);
  const texts = examples.reduce((n, e) => n + (e.textB === undefined ? 1 : 2), 0);
  const tokens = split.tokens;
  totalTexts += texts;
  totalEncodeSeconds += encodeSeconds;
  for (const e of examples) {
    allTexts.push(e.textA);
    if (e.textB !== undefined) allTexts.push(e.textB);
  }
  let padded = 0;
  let batches = 0;
  for (const batch of trainBatches(split, { batchSize, dataSeed: 0, epoch: 0, shuffle: true })) {
    padded += batch.size * batch.seqLength;
    batches++;
  }
  const full = split.size * maxSeqLength;
  console.log(
    `${name.padEnd(6)} ${String(examples.length).padStart(11)} ${readMs.toFixed(0).padStart(8)} ${encodeSeconds.toFixed(2).padStart(9)} ${(texts / encodeSeconds).toFixed(0).padStart(8)} ${(tokens / encodeSeconds).toFixed(0).padStart(10)} ${String(split.truncated).padStart(10)}  ${(padded / full).toFixed(3)} (${batches} batches)`,
  );
}
const jsRate = totalTexts / totalEncodeSeconds;
console.log(`all    ${totalTexts} texts encoded at ${jsRate.toFixed(0)} texts/s (tokenizers.js + truncation + special tokens)`);

// Reference: the Python WordPiece on the same texts (tokenisation only, no file reading in the timing).
const python = '/usr/bin/python3';
if (existsSync(python)) {
  const dir = mkdtempSync(join(tmpdir(), 'ballast-bench-'));
  try {
    const textsFile = join(dir, 'texts.json');
    writeFileSync(textsFile, JSON.stringify(allTexts));
    const script = [
      'import json, sys, time',
      `sys.path.insert(0, ${JSON.stringify(resolve(here, '../trainer/src/data/testdata'))})`,
      'from bert_tokenizer_reference import tokenize',
      `vocab = {}`,
      `for i, t in enumerate(open(${JSON.stringify(vocabFile)}, encoding='utf-8').read().split('\\n')):`,
      '    vocab.setdefault(t, i)',
      `texts = json.load(open(${JSON.stringify(textsFile)}, encoding='utf-8'))`,
      't = time.perf_counter()',
      'for s in texts: tokenize(s, vocab)',
      'print(len(texts) / (time.perf_counter() - t))',
    ].join('\n');
    const out = spawnSync(python, ['-c', script], { encoding: 'utf8', maxBuffer: 1 << 20 });
    if (out.status === 0) {
      const pyRate = Number(out.stdout.trim());
      console.log(`reference: Python WordPiece (slow-tokenizer algorithm) ${pyRate.toFixed(0)} texts/s; ratio js/python ${(jsRate / pyRate).toFixed(2)}x`);
    } else {
      console.log(`reference: Python run failed: ${out.stderr.slice(0, 400)}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
} else {
  console.log('reference: /usr/bin/python3 absent, no ratio');
}
