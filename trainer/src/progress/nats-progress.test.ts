import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { natsServerSkipReason, startNatsServer } from '../../../test/helpers/nats-server.ts';
import { freePort } from '../../../test/helpers/free-port.ts';
import { openNatsBus, STREAM_NAME, subjectToken, trialSubject } from './nats-bus.ts';
import { natsProgressPublisher } from './nats-progress.ts';
import type { NatsBus } from './nats-bus.ts';

const log = pino({ level: 'silent' });
const meta = { experimentId: 'exp1', trialId: 'c1-s1', workerId: 'w1', attempt: 1 };
const step = (n: number) => ({ kind: 'step' as const, step: n, total_steps: 100, loss: 1 / n, lr: 1e-5, examples_per_second: 10 });

/** A bus that records what it was given, with a controllable clock for the throttle. */
function recordingBus(): NatsBus & { sent: Array<{ subject: string; payload: any }> } {
  const sent: Array<{ subject: string; payload: any }> = [];
  return {
    sent,
    publish(subject, payload) {
      sent.push({ subject, payload });
      return true;
    },
    stats: { published: 0, dropped: 0 },
    connected: true,
    ready: Promise.resolve(),
    close: async () => {},
  };
}

test('subject tokens never carry NATS wildcards or separators', () => {
  assert.equal(subjectToken('a.b*c>d e'), 'a_b_c_d_e');
  assert.equal(trialSubject('exp.1', 'c1-s2', 'progress'), 'ballast.exp_1.c1-s2.progress');
});

test('progress is throttled per trial, eval and state are not, and the last step always goes out', async () => {
  const bus = recordingBus();
  let clock = 0;
  const trial = natsProgressPublisher(bus, { minIntervalMs: 500, now: () => clock }).forTrial(meta);
  for (let i = 1; i <= 100; i++) {
    clock += 10; // 100 steps/s for one second
    trial.progress(step(i));
  }
  trial.progress({ kind: 'eval', step: 100, total_steps: 100, validation: { loss: 0.5, accuracy: 0.8 } });
  trial.state('succeeded', { metrics: { accuracy: 0.8 } });
  const kinds = bus.sent.map((m) => m.payload.kind);
  const progress = bus.sent.filter((m) => m.payload.kind === 'progress');
  assert.equal(progress[0]!.payload.step, 1);
  assert.ok(progress.length <= 3, `at most ~2/s over 1 s, got ${progress.length}`);
  // The trailing step 100 is flushed before the eval, so order is kept.
  assert.equal(progress.at(-1)!.payload.step, 100);
  assert.deepEqual(kinds.slice(-2), ['eval', 'state']);
  const state = bus.sent.at(-1)!;
  assert.equal(state.subject, 'ballast.exp1.c1-s1.state');
  assert.deepEqual(
    { v: state.payload.v, source: state.payload.source, state: state.payload.state, trial: state.payload.trial_id, attempt: state.payload.attempt },
    { v: 1, source: 'trainer', state: 'succeeded', trial: 'c1-s1', attempt: 1 },
  );
});

test('an unreachable server never throws into the caller and every drop is counted', async () => {
  const port = await freePort(); // nothing listens there
  const bus = openNatsBus({ url: `nats://127.0.0.1:${port}`, log });
  const trial = natsProgressPublisher(bus, { minIntervalMs: 0 }).forTrial(meta);
  for (let i = 1; i <= 5; i++) trial.progress(step(i));
  trial.state('running');
  assert.equal(bus.stats.dropped, 6);
  assert.equal(bus.stats.published, 0);
  await bus.close(500);
});

test('publishes to a real nats-server, creates the replay stream, and survives the server going away', { skip: natsServerSkipReason() }, async (t) => {
  const server = await startNatsServer();
  t.after(() => server.dispose());
  const bus = openNatsBus({ url: server.url, log });
  await bus.ready;
  assert.equal(bus.connected, true);

  const sub = await connect({ servers: server.url });
  const got: any[] = [];
  const subscription = sub.subscribe('ballast.exp1.>', { callback: (_err, msg) => {
    got.push({ subject: msg.subject, ...msg.json<any>() });
  } });
  await sub.flush();

  const publisher = natsProgressPublisher(bus, { minIntervalMs: 0 });
  const trial = publisher.forTrial(meta);
  trial.state('running');
  trial.progress(step(1));
  trial.progress({ kind: 'eval', step: 1, total_steps: 100, validation: { loss: 0.7 } });
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(got.map((m) => m.subject), ['ballast.exp1.c1-s1.state', 'ballast.exp1.c1-s1.progress', 'ballast.exp1.c1-s1.eval']);
  assert.equal(got[1].loss, 1);

  // JetStream kept them for replay.
  const jsm = await jetstreamManager(sub);
  const info = await jsm.streams.info(STREAM_NAME);
  assert.deepEqual(info.config.subjects, ['ballast.>']);
  assert.ok(info.state.messages >= 3);
  subscription.unsubscribe();
  await sub.close();

  // The server goes away: publishing goes on, never throws, and counts drops.
  await server.stop();
  await new Promise((r) => setTimeout(r, 300));
  for (let i = 2; i <= 11; i++) trial.progress(step(i));
  assert.equal(bus.connected, false);
  assert.ok(publisher.dropped() >= 10, `dropped ${publisher.dropped()}`);

  // And it comes back without anyone's help.
  await server.start();
  const deadline = Date.now() + 8000;
  while (!bus.connected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  assert.equal(bus.connected, true, 'reconnected');
  await bus.close();
});
