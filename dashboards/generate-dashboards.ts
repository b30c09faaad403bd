// `node --import tsx dashboards/generate-dashboards.ts`: writes the generated dashboards, ConfigMaps and PrometheusRule.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { REPO_ROOT, renderAll } from './src/generate.ts';

for (const [path, content] of renderAll()) {
  const file = join(REPO_ROOT, path);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, content);
  console.log(`wrote ${path}`);
}
