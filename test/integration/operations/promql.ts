/**
 * Just enough PromQL reading to find which metrics and labels an expression names: strings, range and
 * subquery brackets and grouping lists are removed; what is left that looks like an identifier and is not a
 * function call or keyword is a metric name.
 */

const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'offset',
  'inf',
  'nan',
]);

/** A vector selector's label matchers, by metric name. */
export interface Selector {
  metric: string;
  labels: string[];
}

/** The metric names an expression reads. */
export function metricNames(expr: string): string[] {
  const names = new Set<string>();
  let s = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""');
  s = s.replace(/\{[^}]*\}/g, ' ');
  s = s.replace(/\[[^\]]*\]/g, ' ');
  s = s.replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  for (const m of s.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const word = m[0];
    const rest = s.slice((m.index ?? 0) + word.length);
    if (/^\s*\(/.test(rest)) continue; // a function or an aggregation
    if (KEYWORDS.has(word.toLowerCase())) continue;
    const before = s.slice(0, m.index ?? 0);
    if (/[0-9.]$/.test(before) || /\de$/i.test(before)) continue; // part of a number (1e3)
    names.add(word);
  }
  return [...names];
}

/** Every `metric{matchers}` selector with the label names it matches on. */
export function selectors(expr: string): Selector[] {
  const out: Selector[] = [];
  for (const m of expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}/g)) {
    const labels = [...(m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)].map(
      (l) => l[1] as string,
    );
    out.push({ metric: m[1] as string, labels });
  }
  return out;
}
