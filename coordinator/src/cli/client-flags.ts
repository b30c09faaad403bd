// The flags every client command shares (where the coordinator is, TLS, token), and the one place
// that turns a failed call into a message for the terminal.
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { UsageError } from '../../../cli/main.ts';
import { CoordinatorClient, DEFAULT_COORDINATOR, RpcError, Code } from '../client/coordinator-client.ts';
import { isLoopback } from '../grpc/grpc-server.ts';
import type { CoordinatorClientOptions } from '../client/coordinator-client.ts';

export interface ClientFlags {
  coordinator?: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsServerName?: string;
  tokenFile?: string;
}

export function addClientOptions(command: Command): Command {
  return command
    .option('--coordinator <host:port>', `coordinator address (default: $BALLAST_COORDINATOR, else ${DEFAULT_COORDINATOR})`)
    .option('--tls-ca <file>', 'PEM CA bundle to verify the coordinator with (turns TLS on)')
    .option('--tls-cert <file>', 'PEM client certificate, for coordinators that require mutual TLS')
    .option('--tls-key <file>', 'PEM private key of --tls-cert')
    .option('--tls-server-name <name>', 'verify the coordinator certificate against this name instead of the host')
    .option('--token-file <file>', 'file holding the bearer token (sent as authorization: Bearer …)');
}

async function readFlagFile(flag: string, path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new UsageError(`${flag} ${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
}

/** Reads a token file: surrounding whitespace (a trailing newline) is not part of the token. */
export async function readTokenFile(path: string, flag = '--token-file'): Promise<string> {
  const token = (await readFlagFile(flag, path)).toString('utf8').trim();
  if (token === '') throw new UsageError(`${flag} ${path}: the file is empty`);
  if (/\s/.test(token)) throw new UsageError(`${flag} ${path}: a token cannot contain whitespace`);
  return token;
}

export async function clientOptions(flags: ClientFlags): Promise<CoordinatorClientOptions> {
  const address = flags.coordinator ?? process.env.BALLAST_COORDINATOR ?? DEFAULT_COORDINATOR;
  if (!/^(\[[^\]]+\]|[^:\s]+):\d+$/.test(address)) throw new UsageError(`--coordinator must be HOST:PORT, got '${address}'`);
  if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined)) throw new UsageError('--tls-cert and --tls-key go together');
  const host = address.replace(/^\[|\]?:\d+$/g, '');
  if (flags.tokenFile !== undefined && flags.tlsCa === undefined && !isLoopback(host)) {
    process.stderr.write(`ballast: warning: sending the bearer token to ${address} without TLS (give --tls-ca): anyone on the path can read it\n`);
  }
  return {
    address,
    ...(flags.tlsCa !== undefined ? { tlsCa: await readFlagFile('--tls-ca', flags.tlsCa) } : {}),
    ...(flags.tlsCert !== undefined ? { tlsCert: await readFlagFile('--tls-cert', flags.tlsCert) } : {}),
    ...(flags.tlsKey !== undefined ? { tlsKey: await readFlagFile('--tls-key', flags.tlsKey) } : {}),
    ...(flags.tlsServerName !== undefined ? { tlsServerName: flags.tlsServerName } : {}),
    ...(flags.tokenFile !== undefined ? { token: await readTokenFile(flags.tokenFile) } : {}),
  };
}

// Codes the user can fix by changing the command: exit 2 like any usage error.
const USER_CODES = new Set<number>([Code.INVALID_ARGUMENT, Code.NOT_FOUND, Code.FAILED_PRECONDITION, Code.UNAUTHENTICATED, Code.PERMISSION_DENIED]);

/** Turns a failed call into a readable error: usage errors exit 2, the rest exit 1, no stack. */
export function describeRpcError(error: RpcError, address: string): Error {
  if (USER_CODES.has(error.code)) return new UsageError(error.details);
  const hint =
    error.code === Code.UNAVAILABLE
      ? ` (is a coordinator running at ${address}? set --coordinator or BALLAST_COORDINATOR; TLS servers need --tls-ca)`
      : '';
  return new CliFailure(`coordinator ${address}: ${error.message}${hint}`);
}

/** A failure that is not the user's input: printed without a stack, exit code 1. */
export class CliFailure extends Error {
  override readonly name = 'CliFailure';
}

/** Connects, runs `body`, closes; prints failures without stacks and sets the exit code. */
export async function withClient(flags: ClientFlags, body: (client: CoordinatorClient) => Promise<number | void>): Promise<void> {
  const options = await clientOptions(flags);
  const client = new CoordinatorClient(options);
  try {
    const code = await body(client);
    if (typeof code === 'number' && code !== 0) process.exitCode = code;
  } catch (error) {
    if (error instanceof RpcError) {
      const described = describeRpcError(error, options.address);
      if (described instanceof UsageError) throw described;
      process.stderr.write(`ballast: ${described.message}\n`);
      process.exitCode = 1;
      return;
    }
    throw error;
  } finally {
    client.close();
  }
}
