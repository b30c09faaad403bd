import assert from 'node:assert/strict';
import { test } from 'node:test';
import { latexEscape } from './write-latex.ts';

test('latexEscape makes configuration labels safe in a tabular', () => {
  assert.equal(latexEscape('reinit_layers=3, lr=2e-5 & 50% {x} #1 ~ ^ \\'), 'reinit\\_layers=3, lr=2e-5 \\& 50\\% \\{x\\} \\#1 \\textasciitilde{} \\textasciicircum{} \\textbackslash{}');
});
