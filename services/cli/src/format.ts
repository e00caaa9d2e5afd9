import { type RatesDocument, unitRateRows } from '@ratebus/schema';

/** `45s`, `4m 12s`, `2h 03m`, `3d 04h`: an age a person can read at a glance. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1_000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d ${String(h % 24).padStart(2, '0')}h`;
}

/** `sha256:` and the first 12 hex digits: enough to tell contents apart in a log line. */
export function hashPrefix(hash: string): string {
  return hash.slice(0, 'sha256:'.length + 12);
}

/** Left-aligned columns separated by two spaces; no trailing spaces. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** `label: value` lines with the values aligned. */
export function fields(pairs: readonly (readonly [string, string])[]): string {
  const width = Math.max(...pairs.map(([k]) => k.length)) + 1;
  return pairs.map(([k, v]) => `${`${k}:`.padEnd(width)} ${v}`).join('\n');
}

/** What a person wants to know about a document without its hundreds of rows. */
export interface DocumentSummary {
  readonly product: string;
  readonly tariff: string;
  readonly region: string;
  readonly fuel: string;
  readonly registerKind: string;
  readonly direction: string | null;
  /** Unit-rate rows: one count for standard, day and night for day-night registers. */
  readonly unitRates: { readonly all: number; readonly day?: number; readonly night?: number };
  readonly standingCharges: number;
  /** Start of the oldest unit-rate row, null when there is none. */
  readonly firstSlotFrom: string | null;
  /** The newest unit-rate row, null when there is none. */
  readonly lastSlot: { readonly from: string; readonly to: string | null } | null;
  readonly coversThrough: string | null;
  readonly fetchedAt: string;
  readonly term: number;
  readonly contentHash: string;
}

export function summarize(doc: RatesDocument): DocumentSummary {
  const rows = unitRateRows(doc);
  let oldest: string | null = null;
  let newest: { from: string; to: string | null } | null = null;
  for (const r of rows) {
    if (oldest === null || Date.parse(r.valid_from) < Date.parse(oldest)) oldest = r.valid_from;
    if (newest === null || Date.parse(r.valid_from) > Date.parse(newest.from)) {
      newest = { from: r.valid_from, to: r.valid_to };
    }
  }
  const unitRates =
    doc.registerKind === 'standard'
      ? { all: rows.length }
      : { all: rows.length, day: doc.dayUnitRates.length, night: doc.nightUnitRates.length };
  return {
    product: doc.product,
    tariff: doc.tariff,
    region: doc.region,
    fuel: doc.fuel,
    registerKind: doc.registerKind,
    direction: doc.direction,
    unitRates,
    standingCharges: doc.standingCharges.length,
    firstSlotFrom: oldest,
    lastSlot: newest,
    coversThrough: doc.coversThrough,
    fetchedAt: doc.fetchedAt,
    term: doc.term,
    contentHash: doc.contentHash,
  };
}

const rowsOf = (n: number) => `${n} ${n === 1 ? 'row' : 'rows'}`;

/** The summary as `label: value` pairs, for {@link fields}. */
export function summaryPairs(s: DocumentSummary): [string, string][] {
  const rates =
    s.unitRates.day === undefined
      ? rowsOf(s.unitRates.all)
      : `${rowsOf(s.unitRates.all)} (day ${s.unitRates.day}, night ${s.unitRates.night ?? 0})`;
  return [
    ['product', s.product],
    ['tariff', s.tariff],
    [
      'kind',
      `${s.fuel} ${s.direction?.toLowerCase() ?? ''} ${s.registerKind}, region ${s.region}`.replace(
        / {2,}/g,
        ' ',
      ),
    ],
    ['unit rates', rates],
    ['standing charges', rowsOf(s.standingCharges)],
    ['first slot', s.firstSlotFrom ?? '-'],
    ['last slot', s.lastSlot ? `${s.lastSlot.from} → ${s.lastSlot.to ?? 'open-ended'}` : '-'],
    ['covers through', s.coversThrough ?? 'open-ended'],
    ['fetched at', s.fetchedAt],
    ['term', String(s.term)],
    ['content hash', s.contentHash],
  ];
}
