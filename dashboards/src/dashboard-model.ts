// A typed subset of Grafana's dashboard JSON model (schemaVersion 39) and small builders for it.
// Plain objects rather than @grafana/grafana-foundation-sdk: the SDK is a 0.0.x pre-release whose
// builders change between releases, and the three dashboards need only time series, stats, bar
// gauges and tables over Prometheus, which this file types in under 200 lines.

export interface Target {
  refId: string;
  expr: string;
  legendFormat?: string;
  /** `table` for instant tables, `heatmap` for bucket series. */
  format?: 'time_series' | 'table' | 'heatmap';
  instant?: boolean;
  range?: boolean;
  datasource: DatasourceRef;
}

export interface DatasourceRef {
  type: 'prometheus';
  uid: string;
}

export interface GridPos {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface Panel {
  id: number;
  type: 'timeseries' | 'stat' | 'bargauge' | 'table' | 'row' | 'heatmap';
  title: string;
  description?: string;
  gridPos: GridPos;
  datasource?: DatasourceRef;
  targets?: Target[];
  fieldConfig?: { defaults: Record<string, unknown>; overrides: unknown[] };
  options?: Record<string, unknown>;
  collapsed?: boolean;
  panels?: Panel[];
  transformations?: Array<{ id: string; options: Record<string, unknown> }>;
}

export interface TemplateVariable {
  name: string;
  label?: string;
  type: 'datasource' | 'query';
  query: string | { query: string; refId: string };
  datasource?: DatasourceRef;
  multi?: boolean;
  includeAll?: boolean;
  allValue?: string;
  current: Record<string, unknown>;
  refresh?: 1 | 2;
  hide?: 0 | 1 | 2;
  regex?: string;
  sort?: number;
  options: unknown[];
}

export interface Dashboard {
  uid: string;
  title: string;
  description: string;
  tags: string[];
  timezone: 'browser' | 'utc';
  editable: boolean;
  graphTooltip: 0 | 1 | 2;
  refresh: string;
  schemaVersion: 39;
  time: { from: string; to: string };
  templating: { list: TemplateVariable[] };
  annotations: { list: unknown[] };
  links: unknown[];
  panels: Panel[];
}

export const DATASOURCE: DatasourceRef = { type: 'prometheus', uid: '${datasource}' };

export const datasourceVariable: TemplateVariable = {
  name: 'datasource',
  label: 'Prometheus',
  type: 'datasource',
  query: 'prometheus',
  current: {},
  hide: 0,
  options: [],
};

/** A multi-select label variable with "All" meaning any value (`.+`). */
export function labelVariable(name: string, label: string, metric: string, labelName: string): TemplateVariable {
  const query = `label_values(${metric}, ${labelName})`;
  return {
    name,
    label,
    type: 'query',
    query: { query, refId: `${name}-query` },
    datasource: DATASOURCE,
    multi: true,
    includeAll: true,
    allValue: '.+',
    current: { selected: true, text: ['All'], value: ['$__all'] },
    refresh: 2,
    hide: 0,
    sort: 1,
    options: [],
  };
}

/** A single-select label variable (the first value by default). */
export function singleVariable(name: string, label: string, metric: string, labelName: string): TemplateVariable {
  return { ...labelVariable(name, label, metric, labelName), multi: false, includeAll: false, current: {} };
}

export interface Query {
  expr: string;
  legend?: string;
  format?: Target['format'];
  instant?: boolean;
}

export interface PanelSpec {
  title: string;
  description?: string;
  /** Width in grid units (24 per row) and height. */
  w: number;
  h: number;
  queries: Query[];
  unit?: string;
  min?: number;
  max?: number;
  decimals?: number;
  stacked?: boolean;
  options?: Record<string, unknown>;
  fieldDefaults?: Record<string, unknown>;
}

function targets(queries: Query[]): Target[] {
  return queries.map((q, i) => ({
    refId: String.fromCharCode(65 + i),
    expr: q.expr,
    ...(q.legend !== undefined ? { legendFormat: q.legend } : {}),
    ...(q.format !== undefined ? { format: q.format } : {}),
    ...(q.instant ? { instant: true, range: false } : {}),
    datasource: DATASOURCE,
  }));
}

function defaults(spec: PanelSpec, extra: Record<string, unknown> = {}): { defaults: Record<string, unknown>; overrides: unknown[] } {
  return {
    defaults: {
      ...(spec.unit !== undefined ? { unit: spec.unit } : {}),
      ...(spec.min !== undefined ? { min: spec.min } : {}),
      ...(spec.max !== undefined ? { max: spec.max } : {}),
      ...(spec.decimals !== undefined ? { decimals: spec.decimals } : {}),
      ...extra,
      ...spec.fieldDefaults,
    },
    overrides: [],
  };
}

type Placed = Omit<Panel, 'id' | 'gridPos'> & { w: number; h: number };

/** What every query panel starts with; each builder adds its field config and options. */
function panelBase(type: Panel['type'], spec: PanelSpec, queries: Query[] = spec.queries) {
  return {
    type,
    title: spec.title,
    ...(spec.description !== undefined ? { description: spec.description } : {}),
    w: spec.w,
    h: spec.h,
    datasource: DATASOURCE,
    targets: targets(queries),
  };
}

export const timeseries = (spec: PanelSpec): Placed => ({
  ...panelBase('timeseries', spec),
  fieldConfig: defaults(spec, {
    custom: { drawStyle: 'line', lineWidth: 1, fillOpacity: spec.stacked ? 60 : 10, showPoints: 'never', stacking: { mode: spec.stacked ? 'normal' : 'none', group: 'A' } },
  }),
  options: { legend: { displayMode: 'list', placement: 'bottom', showLegend: true }, tooltip: { mode: 'multi', sort: 'desc' }, ...spec.options },
});

export const stat = (spec: PanelSpec): Placed => ({
  ...panelBase('stat', spec),
  fieldConfig: defaults(spec),
  options: { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, colorMode: 'value', graphMode: 'area', textMode: 'auto', ...spec.options },
});

export const bargauge = (spec: PanelSpec): Placed => ({
  ...panelBase('bargauge', spec),
  fieldConfig: defaults(spec),
  options: { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, orientation: 'horizontal', displayMode: 'gradient', showUnfilled: true, ...spec.options },
});

export const table = (spec: PanelSpec): Placed => ({
  ...panelBase('table', spec, spec.queries.map((q) => ({ ...q, format: 'table', instant: true }))),
  fieldConfig: defaults(spec),
  options: { showHeader: true, ...spec.options },
  // Several instant queries become one row per label set (e.g. per configuration), one column each.
  ...(spec.queries.length > 1 ? { transformations: [{ id: 'merge', options: {} }] } : {}),
});

export const heatmap = (spec: PanelSpec): Placed => ({
  ...panelBase('heatmap', spec, spec.queries.map((q) => ({ ...q, format: 'heatmap' }))),
  fieldConfig: defaults(spec),
  options: { calculate: false, yAxis: { axisPlacement: 'left' }, color: { mode: 'scheme', scheme: 'Oranges' }, cellGap: 1, ...spec.options },
});

export const row = (title: string): Placed => ({ type: 'row', title, w: 24, h: 1, collapsed: false, panels: [] });

/** Lays panels out left to right, wrapping at 24 columns, and numbers them. */
export function layout(panels: Placed[]): Panel[] {
  let x = 0;
  let y = 0;
  let rowHeight = 0;
  return panels.map((p, i) => {
    if (p.type === 'row' || x + p.w > 24) {
      y += rowHeight;
      x = 0;
      rowHeight = 0;
    }
    const { w, h, ...rest } = p;
    const panel: Panel = { ...rest, id: i + 1, gridPos: { x, y, w, h } };
    x += w;
    rowHeight = Math.max(rowHeight, h);
    if (p.type === 'row') {
      y += h;
      x = 0;
      rowHeight = 0;
    }
    return panel;
  });
}

export function dashboard(options: { uid: string; title: string; description: string; variables: TemplateVariable[]; panels: Placed[] }): Dashboard {
  return {
    uid: options.uid,
    title: options.title,
    description: options.description,
    tags: ['ballast'],
    timezone: 'browser',
    editable: true,
    graphTooltip: 1,
    refresh: '30s',
    schemaVersion: 39,
    time: { from: 'now-6h', to: 'now' },
    templating: { list: [datasourceVariable, ...options.variables] },
    annotations: { list: [] },
    links: [{ type: 'dashboards', tags: ['ballast'], title: 'Ballast', asDropdown: true }],
    panels: layout(options.panels),
  };
}

/** Every PromQL expression of a dashboard, with its panel's title (tests run them). */
export function dashboardQueries(d: Dashboard): Array<{ panel: string; expr: string; instant: boolean }> {
  const out: Array<{ panel: string; expr: string; instant: boolean }> = [];
  for (const panel of d.panels) for (const t of panel.targets ?? []) out.push({ panel: panel.title, expr: t.expr, instant: t.instant === true });
  return out;
}
