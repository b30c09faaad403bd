// A real Prometheus (the Debian package) for tests: a temp config and TSDB, a free loopback port,
// and the HTTP API's queries. Tests skip with `prometheusSkipReason()` when the binary is absent.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, openSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from './free-port.ts';

const CANDIDATES = ['/usr/bin/prometheus', '/usr/local/bin/prometheus'];

export function prometheusPath(): string | undefined {
  return CANDIDATES.find((path) => existsSync(path));
}

export function prometheusSkipReason(): string | false {
  return prometheusPath() ? false : 'prometheus not installed (apt-get install --no-install-recommends prometheus; .ci/run does it)';
}

export interface ScrapeJob {
  job: string;
  targets: Array<{ address: string; labels: Record<string, string> }>;
}

/** One sample series of a query result. */
export interface Series {
  metric: Record<string, string>;
  values: Array<[number, string]>;
}

export interface PrometheusServer {
  readonly url: string;
  /** A range query; throws with Prometheus' error (bad PromQL). */
  queryRange(expr: string, start: number, end: number, stepSeconds?: number): Promise<Series[]>;
  /** GET an API path, e.g. `/api/v1/rules`; returns `data`. */
  api<T>(path: string): Promise<T>;
  log(): string;
  stop(): Promise<void>;
}

export async function startPrometheus(options: { jobs: ScrapeJob[]; ruleFiles?: string[]; scrapeIntervalSeconds?: number }): Promise<PrometheusServer> {
  const binary = prometheusPath();
  if (!binary) throw new Error('prometheus not found');
  const dir = mkdtempSync(join(tmpdir(), 'ballast-prometheus-'));
  const interval = `${options.scrapeIntervalSeconds ?? 1}s`;
  const config = {
    global: { scrape_interval: interval, evaluation_interval: interval, scrape_timeout: interval },
    rule_files: options.ruleFiles ?? [],
    scrape_configs: options.jobs.map((j) => ({
      job_name: j.job,
      static_configs: j.targets.map((t) => ({ targets: [t.address], labels: t.labels })),
    })),
  };
  writeFileSync(join(dir, 'prometheus.yml'), stringify(config));
  const port = await freePort();
  const logFile = join(dir, 'prometheus.log');
  const fd = openSync(logFile, 'a');
  const child: ChildProcess = spawn(
    binary,
    [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { stdio: ['ignore', fd, fd] },
  );
  closeSync(fd);
  const url = `http://127.0.0.1:${port}`;
  const log = () => readFileSync(logFile, 'utf8');
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const started = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus exited (${child.exitCode}):\n${log()}`);
    try {
      const response = await fetch(`${url}/-/ready`);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() - started > 30_000) throw new Error(`prometheus not ready in 30 s:\n${log()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const api = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${url}${path}`);
    const body = (await response.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`${path}: ${body.error ?? response.status}`);
    return body.data;
  };
  return {
    url,
    api,
    async queryRange(expr, start, end, stepSeconds = 1) {
      const params = new URLSearchParams({ query: expr, start: String(start), end: String(end), step: String(stepSeconds) });
      const data = await api<{ resultType: string; result: Series[] }>(`/api/v1/query_range?${params}`);
      return data.result;
    },
    log,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
