import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TrialQueue } from './trial-queue.ts';

describe('TrialQueue', () => {
  it('pops in FIFO order, skipping stale entries, across compactions', () => {
    const queue = new TrialQueue();
    const live = new Map<string, number>();
    for (let i = 0; i < 5000; i++) live.set(`t${i}`, queue.push(`t${i}`));
    // t1 leaves out of turn, t2 is re-queued at the back (its old entry goes stale).
    live.delete('t1');
    live.set('t2', queue.push('t2'));
    const isLive = (id: string, seq: number) => live.get(id) === seq;
    const order: string[] = [];
    for (;;) {
      const id = queue.peek(isLive);
      if (id === undefined) break;
      order.push(id);
      live.delete(id);
      queue.shiftIf(id);
    }
    assert.equal(order.length, 4999);
    assert.deepEqual(order.slice(0, 3), ['t0', 't3', 't4']);
    assert.deepEqual(order.slice(-2), ['t4999', 't2']);
  });

  it('is empty after clear', () => {
    const queue = new TrialQueue();
    queue.push('a');
    queue.clear();
    assert.equal(queue.peek(() => true), undefined);
  });
});
