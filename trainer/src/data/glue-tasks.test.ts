import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { TaskConfigSchema } from '../config/trial-config.ts';
import { DataError } from './data-error.ts';
import { GLUE_PRESETS, glueTaskSpec, readGlueTask } from './glue-tasks.ts';
import { loadTask } from './load-task.ts';

const SHARED = fileURLToPath(new URL('../../../../shared/data/', import.meta.url));
const GLUE = join(SHARED, 'glue');
const absent = (dir: string) => (existsSync(join(GLUE, dir)) ? false : `${join(GLUE, dir)} is absent (../shared/data is not part of a fresh clone)`);

describe('preset definitions', () => {
  test("Hugging Face's label orders and the paper's metrics", () => {
    assert.deepEqual(glueTaskSpec('rte'), {
      name: 'rte', problemType: 'classification', labels: ['entailment', 'not_entailment'], numLabels: 2,
      metrics: ['accuracy'], metric: 'accuracy', selectionMetric: 'accuracy',
    });
    assert.deepEqual(glueTaskSpec('mnli').labels, ['contradiction', 'entailment', 'neutral']);
    assert.deepEqual(glueTaskSpec('qnli').labels, ['entailment', 'not_entailment']);
    for (const name of ['mrpc', 'cola', 'sst-2', 'qqp'] as const) assert.deepEqual(glueTaskSpec(name).labels, ['0', '1']);
    const stsb = glueTaskSpec('sts-b');
    assert.equal(stsb.problemType, 'regression');
    assert.equal(stsb.numLabels, 1);
    assert.equal(stsb.labels, undefined);
    assert.equal(stsb.selectionMetric, 'spearman');
    assert.equal(glueTaskSpec('mrpc').metric, 'f1');
    assert.equal(glueTaskSpec('mrpc').selectionMetric, 'accuracy');
    assert.equal(glueTaskSpec('cola').metric, 'mcc');
    assert.equal(glueTaskSpec('cola').selectionMetric, 'mcc');
    assert.equal(GLUE_PRESETS.mnli.devFile, 'dev_matched.tsv');
  });
});

// Small files in the exact shape of each distribution, for machines without ../shared/data.
describe('presets on small files in GLUE shape', () => {
  const root = mkdtempSync(join(tmpdir(), 'ballast-glue-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  const write = (task: string, file: string, text: string) => {
    mkdirSync(join(root, 'glue', task), { recursive: true });
    writeFileSync(join(root, 'glue', task, file), text);
  };
  write('RTE', 'train.tsv', 'index\tsentence1\tsentence2\tlabel\n0\tA "quoted" premise.\tA hypothesis.\tnot_entailment\n1\tP.\tH.\tentailment\n');
  write('RTE', 'dev.tsv', 'index\tsentence1\tsentence2\tlabel\n0\tP.\tH.\tentailment\n');
  write('MRPC', 'train.tsv', '\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1\t2\tHe said " yes .\t" Yes , " he said .\n0\t3\t4\tA .\tB .\n');
  write('MRPC', 'dev.tsv', '\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n0\t3\t4\tA .\tB .\n');
  write('CoLA', 'train.tsv', 'gj04\t1\t\tGood sentence.\ngj04\t0\t*\tBad sentence the.\n');
  write('CoLA', 'dev.tsv', 'gj04\t1\t\tLast line without newline.');
  write('STS-B', 'train.tsv', 'index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n0\tg\tf\ty\t0\tn\tn\tA plane.\tAn air plane.\t5.000\n1\tg\tf\ty\t1\tn\tn\tA.\tB.\t0.250\n');
  write('STS-B', 'dev.tsv', 'index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n0\tg\tf\ty\t0\tn\tn\tA.\tB.\t3.8\n');
  write('MNLI', 'train.tsv', `${['index', 'promptID', 'pairID', 'genre', 's1b', 's2b', 's1p', 's2p', 'sentence1', 'sentence2', 'label1', 'gold_label'].join('\t')}\n${['0', '1', '2', 'g', 'x', 'x', 'x', 'x', 'P.', 'H.', 'neutral', 'neutral'].join('\t')}\n`);
  write('MNLI', 'dev_matched.tsv', `${['index', 'promptID', 'pairID', 'genre', 's1b', 's2b', 's1p', 's2p', 'sentence1', 'sentence2', 'label1', 'label2', 'label3', 'label4', 'label5', 'gold_label'].join('\t')}\n${['0', '1', '2', 'g', 'x', 'x', 'x', 'x', 'P.', 'H.', 'a', 'b', 'c', 'd', 'e', 'contradiction'].join('\t')}\n`);

  test('rte: quotes kept, label order entailment=0', () => {
    const { train, dev } = readGlueTask('rte', join(root, 'glue', 'RTE'));
    assert.deepEqual(train, [
      { textA: 'A "quoted" premise.', textB: 'A hypothesis.', label: 1, line: 2 },
      { textA: 'P.', textB: 'H.', label: 0, line: 3 },
    ]);
    assert.equal(dev.length, 1);
  });

  test('mrpc: BOM before the header, quotes kept', () => {
    const { train } = readGlueTask('mrpc', join(root, 'glue', 'MRPC'));
    assert.deepEqual(train[0], { textA: 'He said " yes .', textB: '" Yes , " he said .', label: 1, line: 2 });
  });

  test('cola: no header, no trailing newline', () => {
    const { train, dev } = readGlueTask('cola', join(root, 'glue', 'CoLA'));
    assert.deepEqual(train.map((e) => [e.textA, e.label, e.line]), [['Good sentence.', 1, 1], ['Bad sentence the.', 0, 2]]);
    assert.deepEqual(dev, [{ textA: 'Last line without newline.', label: 1, line: 1 }]);
  });

  test('sts-b: float scores', () => {
    const { train } = readGlueTask('sts-b', join(root, 'glue', 'STS-B'));
    assert.deepEqual(train.map((e) => e.label), [5, 0.25]);
  });

  test('mnli: 12-column train and 16-column dev_matched, gold_label by name', () => {
    const data = loadTask(TaskConfigSchema.parse({ name: 'mnli' }), { root });
    assert.deepEqual(data.train.examples, [{ textA: 'P.', textB: 'H.', label: 2, line: 2 }]);
    assert.deepEqual(data.validation.examples.map((e) => e.label), [0]);
    assert.ok(data.validation.source.endsWith('dev_matched.tsv'));
  });

  test('qnli and qqp: pair columns by name, label orders', () => {
    write('QNLI', 'train.tsv', 'index\tquestion\tsentence\tlabel\n0\tWhat?\tThis.\tnot_entailment\n1\tWho?\tHim.\tentailment\n');
    write('QNLI', 'dev.tsv', 'index\tquestion\tsentence\tlabel\n0\tWhy?\tBecause.\tentailment\n');
    const qnli = readGlueTask('qnli', join(root, 'glue', 'QNLI'));
    assert.deepEqual(qnli.train.map((e) => [e.textA, e.textB, e.label]), [['What?', 'This.', 1], ['Who?', 'Him.', 0]]);
    write('QQP', 'train.tsv', 'id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n1\t1\t2\tHow "so"?\tWhy?\t0\n2\t3\t4\tA?\tA?\t1\n');
    write('QQP', 'dev.tsv', 'id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n3\t5\t6\tB?\tC?\t0\n');
    const qqp = readGlueTask('qqp', join(root, 'glue', 'QQP'));
    assert.deepEqual(qqp.train.map((e) => [e.textA, e.textB, e.label]), [['How "so"?', 'Why?', 0], ['A?', 'A?', 1]]);
    // Hugging Face's QQP processor skips rows with too few columns; here they are an error.
    write('QQP', 'dev.tsv', 'id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n3\t5\t6\tB?\n');
    assert.throws(() => readGlueTask('qqp', join(root, 'glue', 'QQP')), (e: unknown) => e instanceof DataError && e.line === 2 && /found 4/.test(e.message));
    rmSync(join(root, 'glue', 'QQP'), { recursive: true });
  });

  test('a bad label or score names file and line; a missing file names the path', () => {
    write('RTE', 'bad.tsv', 'index\tsentence1\tsentence2\tlabel\n0\tP.\tH.\tentailment\n1\tP.\tH.\tcontradiction\n');
    write('SST-2', 'train.tsv', 'sentence\tlabel\ngood \t1\nbad \t2\n');
    write('SST-2', 'dev.tsv', 'sentence\tlabel\nok \t1\n');
    assert.throws(
      () => loadTask(TaskConfigSchema.parse({ name: 'sst-2' }), { root }),
      (e: unknown) => e instanceof DataError && e.file === join(root, 'glue', 'SST-2', 'train.tsv') && e.line === 3 && /label "2" in column 'label' is not one of "0", "1"/.test(e.message),
    );
    write('STS-B', 'dev.tsv', 'index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n0\tg\tf\ty\t0\tn\tn\tA.\tB.\tn/a\n');
    assert.throws(() => loadTask(TaskConfigSchema.parse({ name: 'sts-b' }), { root }), (e: unknown) => e instanceof DataError && e.line === 2 && /score "n\/a"/.test(e.message));
    assert.throws(() => loadTask(TaskConfigSchema.parse({ name: 'qqp' }), { root }), (e: unknown) => e instanceof DataError && e.file === join(root, 'glue', 'QQP', 'train.tsv') && /no such file/.test(e.message));
  });

  test('data_dir overrides the preset directory (relative to the root)', () => {
    const data = loadTask(TaskConfigSchema.parse({ name: 'rte', data_dir: 'glue/RTE' }), { root });
    assert.equal(data.train.examples.length, 2);
  });
});

describe('the real GLUE files', () => {
  const cases = [
    { name: 'rte', dir: 'RTE', train: 2490, dev: 277 },
    { name: 'mrpc', dir: 'MRPC', train: 3668, dev: 408 },
    { name: 'cola', dir: 'CoLA', train: 8551, dev: 1043 },
    { name: 'sts-b', dir: 'STS-B', train: 5749, dev: 1500 },
    { name: 'sst-2', dir: 'SST-2', train: 67349, dev: 872 },
  ] as const;
  for (const c of cases) {
    test(`${c.name}: exactly ${c.train} train and ${c.dev} dev rows, every label valid`, { skip: absent(c.dir) }, () => {
      const data = loadTask(TaskConfigSchema.parse({ name: c.name }), { root: SHARED });
      assert.equal(data.train.examples.length, c.train);
      assert.equal(data.validation.examples.length, c.dev);
      assert.equal(data.test, undefined);
      for (const e of [...data.train.examples, ...data.validation.examples]) {
        if (data.spec.problemType === 'classification') assert.ok(Number.isInteger(e.label) && e.label >= 0 && e.label < data.spec.numLabels);
        else assert.ok(e.label >= 0 && e.label <= 5);
        assert.equal(typeof e.textA, 'string');
        assert.equal(e.textB === undefined, GLUE_PRESETS[c.name].textPair === undefined);
      }
    });
  }

  test('first rows and label mapping as in the files', { skip: absent('RTE') || absent('MRPC') || absent('CoLA') || absent('STS-B') }, () => {
    const rte = loadTask(TaskConfigSchema.parse({ name: 'rte' }), { root: SHARED });
    assert.deepEqual(rte.train.examples[0], { textA: 'No Weapons of Mass Destruction Found in Iraq Yet.', textB: 'Weapons of Mass Destruction Found in Iraq.', label: 1, line: 2 });
    const mrpc = loadTask(TaskConfigSchema.parse({ name: 'mrpc' }), { root: SHARED });
    assert.equal(mrpc.train.examples[0]?.textA.startsWith('Amrozi accused his brother'), true);
    assert.equal(mrpc.train.examples[0]?.label, 1);
    const cola = loadTask(TaskConfigSchema.parse({ name: 'cola' }), { root: SHARED });
    assert.equal(cola.validation.examples.at(-1)?.line, 1043);
    const stsb = loadTask(TaskConfigSchema.parse({ name: 'sts-b' }), { root: SHARED });
    assert.deepEqual(stsb.train.examples.slice(0, 2).map((e) => e.label), [5, 3.8]);
    // Label balance as published: RTE dev 146 entailment / 131 not; CoLA dev 721 acceptable / 322 not.
    assert.equal(rte.validation.examples.filter((e) => e.label === 0).length, 146);
    assert.equal(cola.validation.examples.filter((e) => e.label === 1).length, 721);
  });
});
