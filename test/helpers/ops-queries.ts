// The PromQL the ops files hold: the alert and recording rules' expressions, and the metric names
// an expression selects (for checks against the exporters and against a live Prometheus).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { REPO_ROOT, RULES_FILE } from '../../dashboards/src/generate.ts';

interface RuleFile {
  groups: Array<{ name: string; rules: Array<{ record?: string; alert?: string; expr: string }> }>;
}

export function ruleExpressions(): Array<{ name: string; expr: string; kind: 'record' | 'alert' }> {
  const rules = parse(readFileSync(join(REPO_ROOT, RULES_FILE), 'utf8')) as RuleFile;
  return rules.groups.flatMap((g) =>
    g.rules.map((r) => ({ name: (r.record ?? r.alert) as string, expr: r.expr, kind: r.record ? ('record' as const) : ('alert' as const) })),
  );
}

const KEYWORDS = /^(by|on|and|or|unless|without|ignoring|group_left|group_right|bool|offset|inf|nan|sum|avg|min|max|count|group|stddev|stdvar|topk|bottomk|quantile|count_values)$/i;

/**
 * Identifiers of an expression that are not functions, keywords or label names: the metric names
 * (and recording-rule names) it selects. Label names only occur inside `{...}` and `(...)` after
 * by/on/without/ignoring, which are removed first.
 */
export function metricNames(expr: string): string[] {
  const cleaned = expr
    .replace(/"[^"]*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\b(by|on|without|ignoring|group_left|group_right)\s*\([^)]*\)/g, '$1')
    .replace(/\[[^\]]*\]/g, '');
  const names = new Set<string>();
  for (const match of cleaned.matchAll(/(?<![\w:.])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()/g)) {
    const name = match[1] as string;
    if (!KEYWORDS.test(name)) names.add(name);
  }
  return [...names];
}
