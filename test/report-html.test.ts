// Opens a generated report.html in headless Chromium: every figure is drawn with data, nothing is
// fetched from the network, no console errors; saves full-page screenshots for a reviewer.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { chromium } from 'playwright-core';
import { syntheticResults } from '../coordinator/src/report/testing/synthetic-results.ts';
import { writeReport } from '../coordinator/src/report/write-report.ts';

const CANDIDATES = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter((p): p is string => Boolean(p));
const CHROMIUM = CANDIDATES.find((p) => existsSync(p)) ?? '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? false : `chromium not found (looked at ${CANDIDATES.join(', ')}; apt-get install chromium, .ci/run does it, or set CHROMIUM_PATH)`;
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

test('report.html renders every figure with data, offline, without console errors', { skip, timeout: 120_000 }, async () => {
  const work = await mkdtemp(join(tmpdir(), 'ballast-report-html-'));
  const shots = process.env.BALLAST_TEST_OUT ?? join(tmpdir(), 'ballast-report-screenshots');
  await mkdir(shots, { recursive: true });
  const results = await syntheticResults({
    id: 'exp-rte-stsb',
    tasks: [{ name: 'rte' }, { name: 'sts-b' }],
    configurations: [
      { label: 'bertadam', sweep_values: { optimizer: 'bertadam' }, mean: 0.68, std: 0.02, degenerateRate: 0.25 },
      { label: 'adamw', sweep_values: { optimizer: 'adamw' }, mean: 0.71, std: 0.015 },
      { label: 'adamw-reinit', sweep_values: { optimizer: 'adamw', reinit_layers: 3 }, mean: 0.72, std: 0.012 },
    ],
    seeds: 12,
    metricsDir: work,
  });
  const written = await writeReport(results, work, { baseDir: work });
  const userDataDir = await mkdtemp(join(tmpdir(), 'ballast-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1280, height: 900 } });
  try {
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('request', (request) => {
      if (!request.url().startsWith('file:')) problems.push(`network request: ${request.url()}`);
    });
    await page.goto(pathToFileURL(written.html).href, { waitUntil: 'load' });
    const figures = await page.$$eval('figure.plot', (nodes) =>
      nodes.map((figure) => ({
        id: figure.getAttribute('data-plot'),
        points: Number(figure.getAttribute('data-points')),
        svgs: figure.querySelectorAll('svg').length,
        // Vega draws each mark set as a `role-mark` group; count the drawn elements inside them.
        marks: Array.from(figure.querySelectorAll('svg .role-mark')).reduce((n, g) => n + g.querySelectorAll('path, line, rect, circle').length, 0),
        width: figure.querySelector('svg')?.getBoundingClientRect().width ?? 0,
      })),
    );
    assert.equal(figures.length, 2 * 4, 'four figures per task');
    for (const f of figures) {
      assert.ok(f.points > 0, `${f.id}: has data`);
      assert.equal(f.svgs, 1, `${f.id}: one inline SVG`);
      assert.ok(f.marks >= 3, `${f.id}: marks drawn (${f.marks})`);
      assert.ok(f.width > 200, `${f.id}: laid out (${f.width}px wide)`);
    }
    // The distribution plot draws one point per scored trial.
    const rteDots = await page.$$eval('#rte-distribution svg .mark-symbol.role-mark path', (n) => n.length);
    assert.equal(rteDots, 36, '12 seeds × 3 configurations');
    const text = await page.evaluate(() => document.body.innerText);
    assert.doesNotMatch(text, /\bNaN\b|undefined|Infinity/);
    assert.match(text, /Table 1/);
    assert.deepEqual(problems, []);
    const shot = join(shots, 'report-rte-stsb.png');
    await page.screenshot({ path: shot, fullPage: true });
    await page.setViewportSize({ width: 1280, height: 1000 });
    await page.screenshot({ path: join(shots, 'report-rte-stsb-top.png') });
    console.log(`report screenshots: ${shot} (full page), ${join(shots, 'report-rte-stsb-top.png')} (first screen); report: ${written.html}`);

    // An awkward sweep: one configuration without a test set, a failed trial, no metrics files.
    const awkward = await syntheticResults({
      id: 'exp-awkward',
      tasks: [{ name: 'mrpc', hasTest: false }],
      configurations: [
        { label: 'bertadam', sweep_values: { optimizer: 'bertadam' }, mean: 0.8, std: 0.03, degenerateRate: 0.5 },
        { label: 'adamw', sweep_values: { optimizer: 'adamw' }, mean: 0.85, std: 0.01 },
      ],
      seeds: 3,
      failed: ['mrpc/adamw-s2'],
    });
    const awkwardDir = join(work, 'awkward');
    const second = await writeReport(awkward, awkwardDir);
    await page.goto(pathToFileURL(second.html).href, { waitUntil: 'load' });
    const plots = await page.$$eval('figure.plot', (nodes) => nodes.map((f) => ({ id: f.getAttribute('data-plot'), svg: f.querySelector('svg') !== null, empty: f.querySelector('p.empty')?.textContent ?? null })));
    assert.deepEqual(plots.map((p) => [p.id, p.svg]), [['mrpc-distribution', true], ['mrpc-training-loss', false], ['mrpc-expected-max', true], ['mrpc-validation-curves', true]]);
    assert.match(plots[1]?.empty ?? '', /no per-step metrics/);
    const awkwardText = await page.evaluate(() => document.body.innerText);
    assert.doesNotMatch(awkwardText, /\bNaN\b|undefined|Infinity/);
    assert.match(awkwardText, /mrpc\/adamw-s2/);
    assert.deepEqual(problems, []);
    await page.screenshot({ path: join(shots, 'report-awkward.png'), fullPage: true });
    console.log(`awkward-sweep screenshot: ${join(shots, 'report-awkward.png')}`);
  } finally {
    await context.close();
    await rm(userDataDir, { recursive: true, force: true });
  }
});
