#!/usr/bin/env node
// Node 20's test runner takes no glob patterns, so collect the test files here.
// Usage: node test/run-tests.mjs [unit|integration|all] [extra node --test flags]
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const which = process.argv[2] ?? 'all';

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
const files = (which === 'unit' ? unit : which === 'integration' ? integration : [...unit, ...integration]).sort();
if (files.length === 0) {
  console.error(`no test files found for '${which}'`);
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', ...process.argv.slice(3), ...files],
  { cwd: root, stdio: 'inherit' },
);
process.exit(result.status ?? 1);
