import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mannWhitneyPmf, wilcoxonPmf } from './distributions.ts';

test('the exact Mann–Whitney null distribution sums to 1, is symmetric, and matches a brute-force count', () => {
  for (const [m, n] of [[1, 1], [2, 3], [4, 4], [3, 8], [8, 2]] as const) {
    const pmf = mannWhitneyPmf(m, n);
    assert.equal(pmf.length, m * n + 1);
    assert.ok(Math.abs(pmf.reduce((a, b) => a + b, 0) - 1) < 1e-12);
    pmf.forEach((p, u) => assert.ok(Math.abs(p - (pmf[m * n - u] as number)) < 1e-15, `symmetric at ${u}`));
  }
  // Brute force for m = 2, n = 3: every choice of which 2 of the 5 ranks belong to x.
  const counts = new Array<number>(7).fill(0);
  for (let i = 1; i <= 5; i++) for (let j = i + 1; j <= 5; j++) counts[i - 1 + (j - 2)] = (counts[i - 1 + (j - 2)] as number) + 1;
  assert.deepEqual(mannWhitneyPmf(2, 3).map((p) => Math.round(p * 10)), counts);
});

test('the exact Wilcoxon signed-rank null distribution: 2^n sign patterns', () => {
  const pmf = wilcoxonPmf(3); // R+ over subsets of {1,2,3}: 0,1,2,3,3,4,5,6
  assert.deepEqual(pmf.map((p) => p * 8), [1, 1, 1, 2, 1, 1, 1]);
  const big = wilcoxonPmf(50);
  assert.ok(Math.abs(big.reduce((a, b) => a + b, 0) - 1) < 1e-12);
});
