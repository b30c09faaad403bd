// kill -9 of a process in the middle of a stream of acknowledged changes: everything it acknowledged
// is in the journal after a restart, and the journal opens (a torn tail, if any, is cut).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CoordinatorCore } from '../core/coordinator-core.ts';

const root = fileURLToPath(new URL('../../..', import.meta.url));

// The child: 20 trainers completing trials as fast as they can, printing each acknowledged completion.
const CHILD = `
import { CoordinatorCore } from './coordinator/src/core/coordinator-core.ts';
import { fakeTrialResult } from './coordinator/src/core/fake-trial-result.ts';
const core = await CoordinatorCore.open({ stateDir: process.argv[1] });
await core.submitExperiment({ name: 'crash', base: { model: 'm', task: { name: 'rte' } }, seeds: 5000 }, undefined, { experimentId: 'crash' });
process.stdout.write('ready\\n');
await Promise.all(Array.from({ length: 20 }, async (_, i) => {
  for (;;) {
    const lease = await core.acquireTrial('w' + i);
    if (!lease) return;
    const { accepted } = await core.completeTrial(lease.leaseId, fakeTrialResult(lease.config, lease.seeds));
    if (accepted) process.stdout.write(lease.trialId + '\\n');
  }
}));
`;

it('keeps every acknowledged change across kill -9', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ballast-crash-'));
  try {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CHILD, dir], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    const acknowledged = new Set<string>();
    let buffered = '';
    await new Promise<void>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve() : reject(new Error(`child exited early: ${code ?? signal}`))));
      child.stdout.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        for (const line of lines) if (line !== 'ready') acknowledged.add(line);
        if (acknowledged.size >= 300 && !child.killed) child.kill('SIGKILL');
      });
    });
    assert.ok(acknowledged.size >= 300);
    const core = await CoordinatorCore.open({ stateDir: dir });
    const succeeded = new Set(core.listTrials('crash', { state: 'succeeded' }).map((t) => t.id));
    for (const id of acknowledged) assert.ok(succeeded.has(id), `acknowledged ${id} was lost`);
    const info = core.getExperiment('crash');
    assert.equal(info.counts.queued + info.counts.running + info.counts.succeeded, 5000, 'no trial lost or duplicated');
    await core.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
