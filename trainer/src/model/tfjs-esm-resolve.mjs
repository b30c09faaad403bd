// A Node module-resolution hook for one package: @tensorflow/tfjs-core's ES module build (dist/*.js)
// imports its own files without extensions ('../ops/mul'), which bundlers accept and Node's ESM
// loader does not. Only relative imports from inside that folder are touched.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export async function resolve(specifier, context, next) {
  if (context.parentURL?.includes('/@tensorflow/tfjs-core/dist/') && specifier.startsWith('.') && !specifier.endsWith('.js')) {
    const file = new URL(`${specifier}.js`, context.parentURL);
    if (existsSync(fileURLToPath(file))) return next(file.href, context);
    return next(new URL(`${specifier}/index.js`, context.parentURL).href, context);
  }
  return next(specifier, context);
}
