// Reads a trial file (YAML, or JSON, which YAML 1.2 also reads) into a validated TrialConfig.
// Every failure names the file, and the line or the key path, so that `ballast train` can print
// one line the user can act on.
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { UsageError } from '../../../cli/main.ts';
import { parseTrialConfig, type TrialConfig } from '../config/trial-config.ts';

export function readTrialFile(path: string): TrialConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory, not a trial file' : String((error as Error).message);
    throw new UsageError(`${path}: ${why}`);
  }
  return parseTrialText(text, path);
}

/** Parses trial text; `source` names it in errors. Throws UsageError (syntax) or ConfigError (content). */
export function parseTrialText(text: string, source: string): TrialConfig {
  // uniqueKeys (the default) makes a repeated key an error rather than a silent last-one-wins.
  const doc = parseDocument(text);
  const error = doc.errors[0];
  if (error) {
    const pos = error.linePos?.[0];
    const where = pos ? `:${pos.line}:${pos.col}` : '';
    // prettyErrors (the default) appends " at line L, column C:" and a snippet; we put the position first.
    const message = (error.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
    throw new UsageError(`${source}${where}: ${message}`);
  }
  return parseTrialConfig(doc.toJS(), source);
}
