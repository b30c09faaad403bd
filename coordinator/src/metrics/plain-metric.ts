// A Prometheus metric whose series are plain numbers, for the coordinator's own metrics.
// prom-client's Counter, Gauge and Histogram build a string from the label values and validate
// them on every update (a labelled child does the same), and the coordinator updates six or more
// series per lease call: with them, its metrics were about a fifth of the coordinator's own CPU per
// call and a fifth of its GC pauses (bench/coordinator-work.ts --no-metrics). Here an
// update finds its series through one map per label and adds to numbers, allocating nothing once
// the series exists. The registry, the default process metrics and the exposition format stay
// prom-client's: a PlainMetric is registered in a prom-client Registry and hands it the same
// records its own metrics do (`get`, `getForPromString`).
import type { Registry } from 'prom-client';

export type PlainMetricType = 'counter' | 'gauge' | 'histogram';

/** A NaN or infinity would poison a series for good: refused, as prom-client's own metrics do. */
function finite(value: number): number {
  if (!Number.isFinite(value)) throw new TypeError(`not a finite number: ${value}`);
  return value;
}

/** One series: a counter's or gauge's value, or a histogram's buckets, sum and count. */
export class Series {
  value = 0;
  sum = 0;
  /** Observations per bucket (not cumulative), the last one past every bound (+Inf). */
  readonly counts: Float64Array;

  constructor(
    readonly labels: Readonly<Record<string, string>>,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  inc(amount = 1): void {
    this.value += finite(amount);
  }

  dec(amount = 1): void {
    this.value -= finite(amount);
  }

  set(value: number): void {
    this.value = finite(value);
  }

  observe(value: number): void {
    finite(value);
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.value++; // a histogram's value is its count
  }
}

interface MetricValue {
  value: number;
  labels: Record<string, string | number>;
  sharedLabels?: Record<string, string>;
  metricName?: string;
}

/** Series by label values, one map level per label; a leaf is a Series. */
type Level = Map<string, Level | Series>;

export class PlainMetric {
  readonly aggregator = 'sum';
  private root: Level = new Map();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: PlainMetricType,
    private readonly labelNames: readonly string[],
    registries: readonly Registry[],
    /** Upper bounds of a histogram's buckets, ascending. */
    private readonly buckets: readonly number[] = [],
  ) {
    if (type === 'histogram' && buckets.length === 0) throw new Error(`${name}: a histogram needs buckets`);
    if (labelNames.length > 3) throw new Error(`${name}: at most 3 labels`);
    // The registry's own type asks for a prom-client Metric; it uses only what this class has.
    for (const registry of registries) registry.registerMetric(this as never);
  }

  /**
   * The series of these label values (one per label, in labelNames' order), created at zero on
   * first use: so creating it is also how a series is shown at 0 before anything happened.
   */
  series(a?: string, b?: string, c?: string): Series {
    const n = this.labelNames.length;
    let level = this.root;
    for (let i = 0; i < n; i++) {
      const key = i === 0 ? a : i === 1 ? b : c;
      if (key === undefined) throw new Error(`${this.name}: missing the value of label ${this.labelNames[i]}`);
      const next = level.get(key);
      if (i === n - 1) {
        if (next !== undefined) return next as Series;
        const series = new Series(this.labelsOf(a, b, c), this.buckets);
        level.set(key, series);
        return series;
      }
      if (next === undefined) level.set(key, (level = new Map()));
      else level = next as Level;
    }
    // No labels: one series under the empty key.
    let only = this.root.get('') as Series | undefined;
    if (only === undefined) this.root.set('', (only = new Series({}, this.buckets)));
    return only;
  }

  /** Removes every series whose first label has this value (e.g. a finished experiment's). */
  remove(first: string): void {
    this.root.delete(first);
  }

  reset(): void {
    this.root = new Map();
  }

  /** prom-client's text exposition reads this: a histogram's series labels come after `le`, as its own. */
  getForPromString() {
    const values: MetricValue[] = [];
    for (const series of this.all()) {
      if (this.type !== 'histogram') {
        values.push({ value: series.value, labels: series.labels });
        continue;
      }
      let cumulative = 0;
      for (let i = 0; i < this.buckets.length; i++) {
        cumulative += series.counts[i]!;
        values.push({ value: cumulative, labels: { le: this.buckets[i]! }, sharedLabels: series.labels, metricName: `${this.name}_bucket` });
      }
      values.push({ value: series.value, labels: { le: '+Inf' }, sharedLabels: series.labels, metricName: `${this.name}_bucket` });
      values.push({ value: series.sum, labels: {}, sharedLabels: series.labels, metricName: `${this.name}_sum` });
      values.push({ value: series.value, labels: {}, sharedLabels: series.labels, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  /** JSON exposition (registry.getMetricsAsJSON): each value's labels in one object. */
  get() {
    const data = this.getForPromString();
    return { ...data, values: data.values.map(({ sharedLabels, ...value }) => ({ ...value, labels: { ...sharedLabels, ...value.labels } })) };
  }

  private labelsOf(a?: string, b?: string, c?: string): Record<string, string> {
    const values = [a, b, c];
    return Object.fromEntries(this.labelNames.map((name, i) => [name, values[i]!]));
  }

  private *all(level: Level = this.root): Generator<Series> {
    for (const next of level.values()) {
      if (next instanceof Series) yield next;
      else yield* this.all(next);
    }
  }
}
