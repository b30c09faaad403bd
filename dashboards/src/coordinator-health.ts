// Dashboard 3, coordinator health: is the control plane keeping up? Lease rpc latency and rates,
// lease expiries and retries, journal group-commit latency, and the process itself.
import { dashboard, row, stat, timeseries } from './dashboard-model.ts';
import type { Dashboard } from './dashboard-model.ts';

const JOB = 'job="ballast-coordinator"';

export function coordinatorHealth(): Dashboard {
  return dashboard({
    uid: 'ballast-coordinator-health',
    title: 'Ballast / Coordinator health',
    description: 'Lease latency, expiries and retries, journal write latency, and the coordinator process.',
    variables: [],
    panels: [
      row('Leases'),
      stat({ title: 'Up', w: 4, h: 5, queries: [{ expr: `max(up{${JOB}})` }], fieldDefaults: { mappings: [{ type: 'value', options: { '0': { text: 'DOWN', color: 'red' }, '1': { text: 'UP', color: 'green' } } }] } }),
      stat({ title: 'Lease grants/s', w: 4, h: 5, decimals: 2, queries: [{ expr: 'sum(rate(ballast_coordinator_lease_grants_total[$__rate_interval]))' }] }),
      stat({ title: 'Lease expiries (1h)', w: 4, h: 5, queries: [{ expr: 'sum(increase(ballast_coordinator_lease_expiries_total[1h]))' }] }),
      stat({ title: 'Heartbeat p99', w: 4, h: 5, unit: 's', queries: [{ expr: 'histogram_quantile(0.99, sum by (le) (rate(ballast_coordinator_lease_latency_seconds_bucket{rpc="Heartbeat"}[$__rate_interval])))' }] }),
      stat({ title: 'Journal write p99', w: 4, h: 5, unit: 's', queries: [{ expr: 'histogram_quantile(0.99, sum by (le) (rate(ballast_coordinator_journal_write_seconds_bucket[$__rate_interval])))' }] }),
      stat({ title: 'Experiments', w: 4, h: 5, queries: [{ expr: 'sum(ballast_coordinator_experiments)' }] }),
      timeseries({
        title: 'Lease rpc latency p50 / p99',
        description: 'Server-side; AcquireTrial includes its long-poll wait when no trial is queued.',
        w: 12,
        h: 8,
        unit: 's',
        queries: [0.5, 0.99].map((q) => ({
          expr: `histogram_quantile(${q}, sum by (rpc, le) (rate(ballast_coordinator_lease_latency_seconds_bucket[$__rate_interval])))`,
          legend: `{{rpc}} p${Math.round(q * 100)}`,
        })),
      }),
      timeseries({ title: 'Calls/s by rpc and status', w: 12, h: 8, queries: [{ expr: 'sum by (rpc, code) (rate(ballast_coordinator_rpc_requests_total[$__rate_interval]))', legend: '{{rpc}} {{code}}' }] }),
      timeseries({
        title: 'Lease grants, expiries and retries',
        w: 12,
        h: 8,
        queries: [
          { expr: 'sum(rate(ballast_coordinator_lease_grants_total[$__rate_interval]))', legend: 'grants/s' },
          { expr: 'sum(rate(ballast_coordinator_lease_expiries_total[$__rate_interval]))', legend: 'expiries/s' },
          { expr: 'sum by (cause) (rate(ballast_coordinator_trial_retries_total[$__rate_interval]))', legend: 'retries/s {{cause}}' },
        ],
      }),
      timeseries({
        title: 'Attempt duration p50 by outcome',
        w: 12,
        h: 8,
        unit: 's',
        queries: [{ expr: 'histogram_quantile(0.5, sum by (outcome, le) (rate(ballast_coordinator_trial_duration_seconds_bucket[$__rate_interval])))', legend: '{{outcome}}' }],
      }),
      row('Journal'),
      timeseries({
        title: 'Journal group commit latency p50 / p99',
        description: 'Write + fsync of one group commit (events appended while a commit is in flight share the next one).',
        w: 12,
        h: 8,
        unit: 's',
        queries: [0.5, 0.99].map((q) => ({
          expr: `histogram_quantile(${q}, sum by (le) (rate(ballast_coordinator_journal_write_seconds_bucket[$__rate_interval])))`,
          legend: `p${Math.round(q * 100)}`,
        })),
      }),
      timeseries({
        title: 'Journal throughput',
        w: 12,
        h: 8,
        queries: [
          { expr: 'sum(rate(ballast_coordinator_journal_events_total[$__rate_interval]))', legend: 'events/s' },
          { expr: 'sum(rate(ballast_coordinator_journal_write_seconds_count[$__rate_interval]))', legend: 'commits/s' },
          { expr: 'sum(rate(ballast_coordinator_journal_bytes_total[$__rate_interval])) / 1024', legend: 'KiB/s' },
        ],
      }),
      row('Process'),
      timeseries({
        title: 'Memory',
        w: 8,
        h: 7,
        unit: 'bytes',
        queries: [
          { expr: `process_resident_memory_bytes{${JOB}}`, legend: 'rss' },
          { expr: `nodejs_heap_size_used_bytes{${JOB}}`, legend: 'js heap' },
        ],
      }),
      timeseries({ title: 'Event loop lag p99', w: 8, h: 7, unit: 's', queries: [{ expr: `nodejs_eventloop_lag_p99_seconds{${JOB}}`, legend: 'p99' }] }),
      timeseries({ title: 'CPU', w: 8, h: 7, unit: 'percentunit', queries: [{ expr: `rate(process_cpu_seconds_total{${JOB}}[$__rate_interval])`, legend: 'cores' }] }),
    ],
  });
}
