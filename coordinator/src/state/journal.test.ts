import assert from 'node:assert/strict';
import { appendFileSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CoordinatorCore, JOURNAL_FILE } from '../core/coordinator-core.ts';
import { fakeTrialResult } from '../core/fake-trial-result.ts';
import { sampleResult } from '../grpc/test-fixtures.ts';
import { JournalCorruptError, JournalWriter, readJournal } from './journal.ts';

const FIXTURE = fileURLToPath(new URL('../../../test/fixtures/journal/two-experiments.jsonl', import.meta.url));
// The lease of fixture-grid/c0-s2 that is still running at the end of the fixture.
const RUNNING_LEASE = readFileSync(FIXTURE, 'utf8')
  .trim()
  .split('\n')
  .map((line) => JSON.parse(line) as { type: string; experiment_id: string; trial_id?: string; lease_id?: string })
  .filter((e) => e.type === 'trial_leased' && e.experiment_id === 'fixture-grid' && e.trial_id === 'c0-s2')
  .at(-1)!.lease_id!;

let dir: string;
let journal: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ballast-journal-'));
  journal = join(dir, JOURNAL_FILE);
  copyFileSync(FIXTURE, journal);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function lines(): string[] {
  return readFileSync(journal, 'utf8').split('\n').slice(0, -1);
}

describe('journal replay', () => {
  it('replays the checked-in fixture into the state it recorded', async () => {
    const core = await CoordinatorCore.open({ stateDir: dir });
    assert.deepEqual(
      core.listExperiments().map((e) => [e.id, e.state, e.counts]),
      [
        ['fixture-grid', 'running', { queued: 0, running: 1, succeeded: 2, failed: 1, cancelled: 0, degenerate: 1 }],
        ['fixture-cancelled', 'cancelled', { queued: 0, running: 0, succeeded: 0, failed: 0, cancelled: 3, degenerate: 0 }],
      ],
    );
    const trials = Object.fromEntries(core.listTrials('fixture-grid').map((t) => [t.id, t]));
    assert.equal(trials['c0-s1']!.metrics!.accuracy, 0.7);
    assert.equal(trials['c1-s2']!.degenerate, true);
    assert.equal(trials['c1-s1']!.state, 'failed');
    assert.deepEqual(trials['c1-s1']!.errors, ['attempt 1: out_of_memory: CUDA out of memory', 'attempt 2: out_of_memory: CUDA out of memory']);
    assert.equal(trials['c0-s2']!.state, 'running');
    assert.equal(trials['c0-s2']!.attempts, 3);
    assert.deepEqual(trials['c0-s2']!.errors, ['attempt 1: lease expired: no heartbeat for 30000 ms (worker w1)']);
    assert.equal(core.getExperiment('fixture-cancelled').cancel_reason, 'user asked');

    // The running lease carries on after the restart and finishes the experiment.
    assert.equal(core.heartbeat(RUNNING_LEASE).ok, true);
    const t = trials['c0-s2']!;
    assert.equal((await core.completeTrial(RUNNING_LEASE, fakeTrialResult(t.config, t.seeds, { accuracy: 0.8 }))).accepted, true);
    assert.equal(core.getExperiment('fixture-grid').state, 'succeeded');
    const [adamw] = core.results('fixture-grid').summary;
    assert.equal(adamw!.n, 2);
    assert.ok(Math.abs(adamw!.mean! - 0.75) < 1e-12);
    await core.close();
  });

  it('cuts a torn last record (no newline) with a warning and carries on', async () => {
    const good = readFileSync(journal);
    appendFileSync(journal, '{"v":1,"type":"trial_leased","at":"2026-11-26T12:0');
    const warnings: unknown[] = [];
    const log = { warn: (o: unknown) => warnings.push(o), info: () => {}, error: () => {} };
    const core = await CoordinatorCore.open({ stateDir: dir, log: log as never });
    assert.equal(warnings.length, 1);
    assert.match(JSON.stringify(warnings[0]), /"line":19/);
    assert.equal(core.getExperiment('fixture-grid').counts.running, 1);
    await core.close();
    assert.deepEqual(readFileSync(journal), good, 'truncated to the last good record');
  });

  it('cuts an unparsable last line, such as zeros from a crash', () => {
    appendFileSync(journal, '\0\0\0\0\n');
    const { records, torn } = readJournal(journal);
    assert.equal(records.length, 18);
    assert.equal(torn?.line, 19);
    assert.equal(torn?.bytes, 5);
    assert.equal(readJournal(journal).torn, undefined, 'the cut is durable');
  });

  it('refuses corruption before the last line, naming the line', () => {
    const all = lines();
    all[4] = all[4]!.slice(0, 40);
    writeFileSync(journal, `${all.join('\n')}\n`);
    assert.throws(() => readJournal(journal), (error: unknown) => {
      assert.ok(error instanceof JournalCorruptError);
      assert.equal(error.line, 5);
      assert.match(error.message, /journal\.jsonl:5: not JSON/);
      return true;
    });
    assert.equal(lines()[4]!.length, 40, 'the file is left as it was');
  });

  it('refuses records from a newer version and events that do not fit, naming the line', async () => {
    const all = lines();
    writeFileSync(journal, `${[...all.slice(0, 3), all[3]!.replace('"v":1', '"v":2'), ...all.slice(4)].join('\n')}\n`);
    assert.throws(() => readJournal(journal), /:4: version 2/);
    // A lease granted twice: valid JSON, impossible history.
    writeFileSync(journal, `${[...all.slice(0, 3), all[1]!, ...all.slice(3)].join('\n')}\n`);
    await assert.rejects(CoordinatorCore.open({ stateDir: dir }), (error: unknown) => {
      assert.ok(error instanceof JournalCorruptError);
      assert.equal(error.line, 4);
      assert.match(error.message, /cannot apply trial_leased/);
      return true;
    });
    // The lock was released on failure: a fixed journal opens.
    writeFileSync(journal, `${all.join('\n')}\n`);
    await (await CoordinatorCore.open({ stateDir: dir })).close();
  });
});

describe('JournalWriter', () => {
  it('groups appends of one tick into one write and one fsync', async () => {
    const file = join(dir, 'group.jsonl');
    const writer = await JournalWriter.open(file);
    const event = { v: 1, type: 'experiment_cancelled', at: 'x', experiment_id: 'e', reason: 'r' } as const;
    await Promise.all(Array.from({ length: 100 }, () => writer.append(event)));
    assert.deepEqual({ writes: writer.stats.writes, events: writer.stats.events }, { writes: 1, events: 100 });
    await writer.append(event);
    assert.equal(writer.stats.writes, 2);
    await writer.close();
    assert.equal(readFileSync(file, 'utf8').split('\n').length, 102);
  });

  it('keeps NaN and infinities across a write and a replay; nulls and look-alike strings stay as they were', async () => {
    const file = join(dir, 'floats.jsonl');
    const writer = await JournalWriter.open(file);
    const result = {
      ...sampleResult,
      diverged: { step: 3, loss: Number.NaN },
      evals: [{ step: 1, validation: { loss: Number.POSITIVE_INFINITY, accuracy: Number.NEGATIVE_INFINITY } }],
      degenerate_reason: 'NaN',
      checkpoint_dir: '{"$float":"NaN"}',
    };
    const odd = { $float: 'NaN', other: 1 };
    const event = { v: 1, type: 'trial_completed', at: 'x', experiment_id: 'e', trial_id: 't', lease_id: 'l', result, odd, nothing: null, notTagged: { $float: '1.5' } };
    await writer.append(event as never);
    await writer.append({ v: 1, type: 'experiment_cancelled', at: 'x', experiment_id: 'e', reason: 'r' });
    await writer.close();
    const [first, second] = readJournal(file).records.map((r) => r.event);
    assert.deepEqual(first, event);
    assert.deepEqual(second, { v: 1, type: 'experiment_cancelled', at: 'x', experiment_id: 'e', reason: 'r' });
    // A line without a non-finite number is plain JSON.
    assert.equal(readFileSync(file, 'utf8').split('\n')[1], JSON.stringify(second));
  });

  it("a trial's result comes back exactly from a restart, NaN and infinite losses included", async () => {
    const stateDir = join(dir, 'state');
    let core = await CoordinatorCore.open({ stateDir, leaseTtlMs: 60_000 });
    const { experimentId } = await core.submitExperiment({ name: 'nan', base: { model: 'builtin:tiny', task: { name: 'rte' } }, seeds: 1 });
    const lease = (await core.acquireTrial('w'))!;
    const result = { ...sampleResult, config: lease.config, seeds: lease.seeds };
    await core.completeTrial(lease.leaseId, result);
    await core.close();
    core = await CoordinatorCore.open({ stateDir, leaseTtlMs: 60_000 });
    const replayed = core.listTrials(experimentId)[0]!.result!;
    assert.deepEqual(replayed, result);
    assert.ok(Number.isNaN(replayed.diverged!.loss));
    assert.equal(replayed.last.validation.loss, Number.POSITIVE_INFINITY);
    await core.close();
  });

  it('writes over zeros laid ahead, extends them as the records grow, and cuts them on close', async () => {
    const file = join(dir, 'grow.jsonl');
    const writer = await JournalWriter.open(file);
    const reason = 'x'.repeat(2000);
    const event = (i: number) => ({ v: 1, type: 'experiment_cancelled', at: String(i), experiment_id: 'e', reason }) as const;
    // ~2.6 MB of records: past the first step of zeros (1 MiB) and the extensions after it.
    for (let i = 0; i < 1300; i += 100) await Promise.all(Array.from({ length: 100 }, (_, k) => writer.append(event(i + k))));
    const open = readFileSync(file);
    assert.equal(open.at(-1), 0, 'an open journal ends in zeros');
    const records = open.toString('utf8').replace(/\0+$/, '').split('\n').slice(0, -1);
    assert.deepEqual(records.map((line) => (JSON.parse(line) as { at: string }).at), Array.from({ length: 1300 }, (_, i) => String(i)));
    await writer.close();
    const closed = readFileSync(file);
    assert.equal(closed.length, open.indexOf(0), 'closed: records only');
    assert.equal(readJournal(file).records.length, 1300);
  });

  it('after a crash, replays the records and cuts the zeros after them without a warning', async () => {
    const writer = await JournalWriter.open(journal);
    await writer.append({ v: 1, type: 'experiment_cancelled', at: '2026-11-26T12:00:00.000Z', experiment_id: 'fixture-grid', reason: 'r' });
    // No close: what kill -9 leaves (the zeros are on disk, O_DSYNC).
    const left = readFileSync(journal);
    assert.ok(left.length > 1 << 20 && left.at(-1) === 0);
    const { records, torn } = readJournal(journal);
    assert.equal(torn, undefined);
    assert.equal(records.length, 19);
    assert.equal(records.at(-1)!.event.type, 'experiment_cancelled');
    assert.deepEqual(readFileSync(journal), left.subarray(0, left.indexOf(0)), 'cut to the records, durably');
    await writer.close().catch(() => {});
  });

  it('cuts a record torn by a crash in front of the zeros', () => {
    const good = readFileSync(journal);
    appendFileSync(journal, Buffer.concat([Buffer.from('{"v":1,"type":"trial_le'), Buffer.alloc(4096)]));
    const { records, torn } = readJournal(journal);
    assert.equal(records.length, 18);
    assert.deepEqual(torn, { line: 19, bytes: 23, reason: 'no newline at the end (an interrupted write)' });
    assert.deepEqual(readFileSync(journal), good);
  });
});
