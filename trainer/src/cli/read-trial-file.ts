// Reads a trial file (YAML, or JSON, which YAML 1.2 also reads) into a validated TrialConfig.
// Every failure names the file, and the line or the key path, so that `ballast train` can print
// one line the user can act on.
import { readFileSync } from 'node:fs';
import { UsageError } from '../../../cli/main.ts';
import { parseTrialConfig, type TrialConfig } from '../config/trial-config.ts';
import { parseYamlText, YamlSyntaxError } from '../config/yaml-text.ts';

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
  let value: unknown;
  try {
    value = parseYamlText(text);
  } catch (error) {
    if (!(error instanceof YamlSyntaxError)) throw error;
    throw new UsageError(`${source}${error.line !== undefined ? `:${error.line}:${error.col}` : ''}: ${error.reason}`);
  }
  return parseTrialConfig(value, source);
}
