#!/usr/bin/env node
// The sources are TypeScript run through tsx: one artefact for the CLI, the coordinator and the
// trainer pods, with no build step to drift from the checked-in code.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
