import {
  contentHash,
  coversThrough,
  discontinuities,
  type HashableDocument,
  overlapping,
  parseTariffCode,
  type RateSlot,
  type RatesDocument,
  RatesDocumentSchema,
  SCHEMA_VERSION,
  type TariffRef,
  toUtcSecond,
  unitRateRows,
  validate,
} from '@ratebus/schema';
import type { TariffRates } from './client.js';
import { ukMidnight } from './uk-time.js';

/*
 * The rates document built from one upstream answer, and the publish guards. Pure (no I/O, no clock), and
 * shared by everything that writes documents: the fetcher and the client's last-resort fetch must build
 * byte-for-byte the same content for the same answer, or pods would see spurious changes.
 */

/** Why a fetched document was not published. */
export type DocumentRejectReason = 'empty' | 'partial' | 'non-contiguous' | 'shrinking' | 'invalid';

export interface DocumentRejection {
  readonly reason: DocumentRejectReason;
  /** What was wrong, for the log; never the raw rows. */
  readonly detail: string;
}

export interface FetchWindow {
  /** Start, epoch ms (inclusive). */
  readonly from: number;
  /** End, epoch ms (exclusive). */
  readonly to: number;
}

/**
 * The window every fetch asks: `[UK midnight windowDays days ago, UK midnight three days ahead)`. Anchored
 * at UK midnights so the content only changes when new slots appear (and once a day, when the oldest day
 * drops out).
 */
export function fetchWindow(now: number, windowDays: number): FetchWindow {
  return { from: ukMidnight(now, -windowDays), to: ukMidnight(now, 3) };
}

export interface BuildDocumentInput {
  readonly ref: TariffRef;
  readonly rates: TariffRates;
  readonly window: FetchWindow;
  /** When upstream answered, epoch ms. */
  readonly fetchedAt: number;
  /** Fencing term of the writer. */
  readonly term: number;
}

export type BuildResult =
  | { readonly ok: true; readonly doc: RatesDocument }
  | { readonly ok: false; readonly rejection: DocumentRejection };

/**
 * Builds and validates a rates document from one upstream answer. Rows keep upstream order (newest first);
 * `coversThrough` is the end of the newest unit-rate slot; the hash covers content only, so an unchanged
 * re-fetch gives the same hash whatever its window, time or term.
 */
export function buildDocument(input: BuildDocumentInput): BuildResult {
  const { ref, rates } = input;
  const parts = parseTariffCode(ref.tariff);
  const common = {
    type: 'rates' as const,
    schemaVersion: SCHEMA_VERSION,
    product: ref.product,
    tariff: ref.tariff,
    region: parts.region,
    fuel: parts.fuel,
    direction: rates.direction,
    standingCharges: rates.standingCharges,
  };
  // Omit<> over the document union keeps only shared keys, so the content is built untyped and checked below.
  const content: Record<string, unknown> =
    rates.registerKind === 'standard'
      ? {
          ...common,
          registerKind: 'standard',
          unitRates: rates.unitRates,
          coversThrough: coversThrough(rates.unitRates),
        }
      : {
          ...common,
          registerKind: 'day-night',
          dayUnitRates: rates.dayUnitRates,
          nightUnitRates: rates.nightUnitRates,
          coversThrough: coversThrough([...rates.dayUnitRates, ...rates.nightUnitRates]),
        };
  const candidate = {
    ...content,
    window: { from: toUtcSecond(input.window.from), to: toUtcSecond(input.window.to) },
    fetchedAt: new Date(input.fetchedAt).toISOString(),
    contentHash: contentHash(content as HashableDocument),
    term: input.term,
  };
  const v = validate(RatesDocumentSchema, 'RatesDocument', candidate);
  if (!v.ok) {
    const issues = v.error.issues.slice(0, 3).map((i) => `${i.path || '(root)'}: ${i.message}`);
    return { ok: false, rejection: { reason: 'invalid', detail: issues.join('; ') } };
  }
  return { ok: true, doc: v.value };
}

/** The row sets of a document, named for logs. */
function rowSets(doc: RatesDocument): [string, readonly RateSlot[]][] {
  const units: [string, readonly RateSlot[]][] =
    doc.registerKind === 'standard'
      ? [['unitRates', doc.unitRates]]
      : [
          ['dayUnitRates', doc.dayUnitRates],
          ['nightUnitRates', doc.nightUnitRates],
        ];
  return [...units, ['standingCharges', doc.standingCharges]];
}

/**
 * The publish guards: never an empty, partial, non-contiguous or shrinking document. `lastGood` is the
 * document currently held (KV); null for a tariff never published. Returns null when `doc` may be published.
 */
export function checkDocument(doc: RatesDocument, lastGood: RatesDocument | null): DocumentRejection | null {
  if (unitRateRows(doc).length === 0) return { reason: 'empty', detail: 'no unit-rate rows' };
  for (const [name, rows] of rowSets(doc)) {
    const breaks = discontinuities(rows);
    const first = breaks[0];
    if (first) {
      return {
        reason: 'non-contiguous',
        detail: `${name}: ${breaks.length} break(s), first ${first.kind} at ${first.at} (next ${first.next})`,
      };
    }
  }
  if (lastGood === null) return null;
  if (lastGood.registerKind !== doc.registerKind) return null; // a new register layout: nothing to compare
  const oldSets = new Map(rowSets(lastGood));
  for (const [name, rows] of rowSets(doc)) {
    const old = oldSets.get(name) ?? [];
    if (rows.length === 0 && old.length > 0)
      return { reason: 'partial', detail: `${name}: no rows (had ${old.length})` };
  }
  const from = Math.max(Date.parse(doc.window.from), Date.parse(lastGood.window.from));
  const to = Math.min(Date.parse(doc.window.to), Date.parse(lastGood.window.to));
  if (from < to) {
    for (const [name, rows] of rowSets(doc)) {
      const had = overlapping(oldSets.get(name) ?? [], from, to).length;
      const has = overlapping(rows, from, to).length;
      if (has < had)
        return { reason: 'shrinking', detail: `${name}: ${has} rows in the common window, had ${had}` };
    }
  }
  if (lastGood.coversThrough !== null) {
    if (doc.coversThrough === null || Date.parse(doc.coversThrough) < Date.parse(lastGood.coversThrough)) {
      return {
        reason: 'shrinking',
        detail: `coversThrough ${doc.coversThrough ?? 'null'} is before ${lastGood.coversThrough}`,
      };
    }
  }
  return null;
}
