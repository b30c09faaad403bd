// The generated TypeScript in proto/gen is checked in; this fails when it no longer matches what
// `npm run generate` makes from the .proto files (someone edited one without regenerating, or
// edited generated code by hand). It also keeps the contract `buf lint` clean.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const protoDir = fileURLToPath(new URL('.', import.meta.url));
const binDir = fileURLToPath(new URL('../node_modules/.bin', import.meta.url));
const env = { ...process.env, PATH: `${binDir}${delimiter}${process.env.PATH ?? ''}` };

function listGenerated(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('_pb.ts')) out.push(relative(dir, path));
    }
  };
  walk(dir);
  return out.sort();
}

test('proto/gen matches a fresh `buf generate`', () => {
  const out = mkdtempSync(join(tmpdir(), 'ballast-gen-'));
  try {
    execFileSync(join(binDir, 'buf'), ['generate', '--output', out], { cwd: protoDir, env, stdio: 'pipe' });
    const fresh = join(out, 'gen');
    const checkedIn = join(protoDir, 'gen');
    assert.deepEqual(listGenerated(checkedIn), listGenerated(fresh), 'the set of generated files differs: run `npm run generate`');
    for (const file of listGenerated(fresh)) {
      assert.equal(
        readFileSync(join(checkedIn, file), 'utf8'),
        readFileSync(join(fresh, file), 'utf8'),
        `proto/gen/${file} is stale or was edited by hand: run \`npm run generate\``,
      );
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('the contract is `buf lint` clean', () => {
  execFileSync(join(binDir, 'buf'), ['lint'], { cwd: protoDir, env, stdio: 'pipe' });
});
