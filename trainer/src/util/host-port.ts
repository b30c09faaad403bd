// `--listen`, `--metrics-listen` and `--coordinator` all take HOST:PORT; one parser, one message.

/** Splits `HOST:PORT` / `[v6]:PORT`; throws an Error naming `what` when malformed. */
export function parseHostPort(value: string, what = 'address'): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(value.trim());
  const port = match ? Number(match[3]) : NaN;
  if (!match || !(port >= 0 && port <= 65535)) throw new Error(`${what} must be HOST:PORT, got '${value}'`);
  return { host: (match[1] ?? match[2]) as string, port };
}
