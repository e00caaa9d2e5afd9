import { createHash } from 'node:crypto';
import type { RatesDocument } from './rates.js';

/**
 * JSON with object keys sorted at every depth, so that equal values give equal text whatever order their
 * keys were written in. Array order is kept: it is meaningful (rows are newest first).
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}

/** Fields that describe one fetch rather than the rates, left out of the content hash. */
const VOLATILE_FIELDS = ['contentHash', 'fetchedAt', 'term', 'window'] as const;

/** What a content hash covers: the document without its volatile fields. */
export type HashableDocument = Omit<RatesDocument, (typeof VOLATILE_FIELDS)[number]>;

/**
 * `sha256:<hex>` of the canonical JSON of a document's content (product, tariff, region, fuel, direction,
 * register kind, rates, standing charges, coverage). Same rates → same hash, regardless of key order or of
 * when and by whom they were fetched; any changed value → a different hash.
 */
export function contentHash(doc: HashableDocument | RatesDocument): string {
  const content: Record<string, unknown> = { ...doc };
  for (const f of VOLATILE_FIELDS) delete content[f];
  return `sha256:${createHash('sha256').update(canonicalJson(content)).digest('hex')}`;
}
