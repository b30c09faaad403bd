// Trial files and experiment specs are YAML (or JSON, which YAML 1.2 also reads). One parser
// setting for both: a repeated key is an error rather than a silent last-one-wins, and a syntax
// error carries its position separately so each caller can put the file and line where its users
// look for them.
import { parseDocument } from 'yaml';

export class YamlSyntaxError extends Error {
  override readonly name = 'YamlSyntaxError';
  constructor(
    readonly reason: string,
    readonly line?: number,
    readonly col?: number,
  ) {
    super(line !== undefined ? `line ${line}, column ${col}: ${reason}` : reason);
  }
}

/** The document as plain JS values; throws YamlSyntaxError on the first syntax error. */
export function parseYamlText(text: string): unknown {
  const doc = parseDocument(text, { uniqueKeys: true });
  const error = doc.errors[0];
  if (error) {
    const pos = error.linePos?.[0];
    // prettyErrors (the default) appends " at line L, column C:" and a snippet; the position is kept apart.
    const reason = (error.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
    throw new YamlSyntaxError(reason, pos?.line, pos?.col);
  }
  return doc.toJS();
}
