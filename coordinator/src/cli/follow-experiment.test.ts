// Following survives a coordinator restart: the stream breaks (UNAVAILABLE), the follower retries
// until the server is back on the same address, and carries on from a fresh snapshot to the end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoordinatorCore } from '../core/coordinator-core.ts';
import { CoordinatorClient } from '../client/coordinator-client.ts';
import type { WatchEvent } from '../client/coordinator-client.ts';
import { serveCoordinator } from '../grpc/coordinator-server.ts';
import { sampleResult } from '../grpc/test-fixtures.ts';
import { followExperiment } from './follow-experiment.ts';

test('follows an experiment across a server restart to its end', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ballast-follow-'));
  const core = await CoordinatorCore.open({ stateDir: dir, leaseTtlMs: 5000 });
  let server = await serveCoordinator({ core, leaseTtlMs: 5000, listen: '127.0.0.1:0' });
  const address = server.address;
  const client = new CoordinatorClient({ address, defaultTimeoutMs: 3000 });
  try {
    const { experimentId } = await client.submitExperiment({
      name: 'follow',
      base: { model: 'builtin:bert-tiny', task: { name: 'synthetic' }, max_steps: 10 },
      seeds: 2,
    });
    const events: WatchEvent[] = [];
    let retries = 0;
    const following = (async () => {
      for await (const event of followExperiment(client, experimentId, { onRetry: () => retries++ })) events.push(event);
    })();
    while (events.length < 3) await new Promise((resolve) => setTimeout(resolve, 20));

    await server.shutdown(1000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    server = await serveCoordinator({ core, leaseTtlMs: 5000, listen: address });
    for (;;) {
      const lease = await core.acquireTrial('w1');
      if (!lease) break;
      await core.completeTrial(lease.leaseId, { ...sampleResult, config: lease.config, seeds: lease.seeds });
    }
    await following;
    assert.ok(retries >= 1, 'the follower retried');
    // The end may arrive as a reconnection snapshot (experiment first, then its trials) or live.
    assert.ok(events.some((e) => e.type === 'experiment' && e.experiment.state === 'succeeded'));
    const latest = new Map(events.flatMap((e) => (e.type === 'trial' ? [[e.trial.id, e.trial.state] as const] : [])));
    assert.deepEqual([...latest.values()], ['succeeded', 'succeeded']);
  } finally {
    client.close();
    await server.shutdown(1000);
    await core.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
