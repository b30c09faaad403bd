#!/usr/bin/env node
// Node 20's test runner takes no glob patterns, so collect the test files here.
// Usage: node test/run-tests.mjs [unit|integration|all|FILE.test.ts ...] [extra node --test flags]
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
// Test files named on the command line run alone; otherwise the first argument picks a set.
const named = args.filter((a) => a.endsWith('.test.ts'));
const flags = args.filter((a) => !a.endsWith('.test.ts'));
const SETS = ['unit', 'integration', 'all'];
const which = named.length > 0 ? 'named' : SETS.includes(flags[0] ?? '') ? flags.shift() : 'all';
// Extra node --test flags take the --flag=value form, so that a stray word is caught as a typo.
const stray = flags.find((a) => !a.startsWith('-'));
if (stray !== undefined) {
  console.error(`unknown test set '${stray}': unit, integration, all, or test files (*.test.ts)`);
  process.exit(2);
}

function collect(dir, out) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) collect(path, out);
    else if (entry.name.endsWith('.test.ts')) out.push(relative(root, path));
  }
  return out;
}

const unit = ['cli', 'coordinator', 'trainer', 'proto', 'dashboards', 'k8s', 'bench'].flatMap((d) => {
  try { return collect(join(root, d), []); } catch { return []; }
});
const integration = collect(join(root, 'test'), []);
const files = (which === 'named' ? named : which === 'unit' ? unit : which === 'integration' ? integration : [...unit, ...integration]).sort();
if (files.length === 0) {
  console.error(`no test files found for '${which}'`);
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', ...flags, ...files],
  { cwd: root, stdio: 'inherit' },
);
process.exit(result.status ?? 1);
