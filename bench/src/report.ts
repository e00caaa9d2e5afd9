import type { DesignResult } from './load/result.js';

const fmt = (n: number | null) => (n === null ? '—' : Number.isInteger(n) ? String(n) : n.toFixed(1));

/** Markdown table of the upstream-load results, designs side by side per fleet size. */
export function loadTable(results: readonly DesignResult[]): string {
  const head =
    '| pods | design | upstream requests | peak concurrent | requests / tariff / day | next day held after publication (p50 / p95 / max min) | pod-tariffs never holding it | non-200 | clock |\n' +
    '|---:|---|---:|---:|---:|---|---:|---:|---:|';
  const rows = results.map(
    (r) =>
      `| ${r.pods} | ${r.design} | ${r.upstreamRequests} | ${r.peakConcurrent} | ${fmt(r.requestsPerTariffPerDay)} | ` +
      `${fmt(r.nextDayHeld.p50)} / ${fmt(r.nextDayHeld.p95)} / ${fmt(r.nextDayHeld.max)} | ${r.nextDayHeld.missing} | ${r.errors} | ×${r.speed} |`,
  );
  return [head, ...rows].join('\n');
}
