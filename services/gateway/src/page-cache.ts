import { createHash } from 'node:crypto';
import type { RatesDocument } from '@ratebus/schema';

/** Default bound on cached answers: 4,096 (a few per held tariff and client kind is the normal working set). */
export const DEFAULT_PAGE_CACHE_ENTRIES = 4_096;
/** Default bound on the bytes of cached bodies: 64 MiB. */
export const DEFAULT_PAGE_CACHE_BYTES = 64 * 1024 * 1024;

/** One computed answer of a rates endpoint: valid while its tariff's held document is the one it came from. */
export interface CachedPage {
  readonly status: number;
  /** The JSON body, encoded once. */
  readonly body: Buffer;
  /** Strong validator of the body, quoted (`"…"`), for `ETag` / `If-None-Match`. */
  readonly etag: string;
}

interface Entry extends CachedPage {
  readonly tariff: string;
}

export interface PageCacheStats {
  readonly entries: number;
  readonly bytes: number;
}

/**
 * The answers of the rates endpoints, each computed once per (tariff, charge, origin, query) and document,
 * and reused until the document changes. Pages are grouped by tariff: a new document of a tariff drops all
 * of its pages at once, so the cache never keeps superseded documents (or their pages) alive. Least recently
 * used first out; bounded in entries and in bytes, so unique query strings cost at most the bound.
 */
export class PageCache {
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  /** Insertion order = recency order: a hit moves its entry to the end. */
  readonly #entries = new Map<string, Entry>();
  /** Per tariff with pages: the document they were computed from, and their keys. */
  readonly #tariffs = new Map<string, { document: RatesDocument; keys: Set<string> }>();
  #bytes = 0;
  #evictions = 0;

  constructor(opts: { maxEntries?: number; maxBytes?: number } = {}) {
    this.#maxEntries = opts.maxEntries ?? DEFAULT_PAGE_CACHE_ENTRIES;
    this.#maxBytes = opts.maxBytes ?? DEFAULT_PAGE_CACHE_BYTES;
    if (!(this.#maxEntries >= 0) || !(this.#maxBytes >= 0)) {
      throw new RangeError('page cache bounds must be ≥ 0');
    }
  }

  /** The cached page for `key` of `tariff` when it was computed from `document` (compared by identity). */
  get(key: string, tariff: string, document: RatesDocument): CachedPage | undefined {
    // Pages of another document are dropped by the next put of this tariff, not by a reader.
    if (this.#tariffs.get(tariff)?.document !== document) return undefined;
    const hit = this.#entries.get(key);
    if (hit === undefined) return undefined;
    this.#entries.delete(key);
    this.#entries.set(key, hit);
    return hit;
  }

  /** Encodes and stores an answer; returns it (stored or, when larger than the whole bound, not). */
  put(key: string, tariff: string, document: RatesDocument, status: number, body: unknown): CachedPage {
    const bytes = Buffer.from(JSON.stringify(body));
    const page: Entry = { tariff, status, body: bytes, etag: etagOf(bytes) };
    const t = this.#tariffs.get(tariff);
    if (t !== undefined && t.document !== document) this.#dropTariff(tariff);
    this.#remove(key);
    if (bytes.length > this.#maxBytes || this.#maxEntries === 0) return page;
    this.#entries.set(key, page);
    this.#bytes += bytes.length;
    const group = this.#tariffs.get(tariff) ?? { document, keys: new Set<string>() };
    group.keys.add(key);
    this.#tariffs.set(tariff, group);
    while (this.#entries.size > this.#maxEntries || this.#bytes > this.#maxBytes) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) break;
      this.#remove(oldest.value);
      this.#evictions += 1;
    }
    return page;
  }

  /** Entries evicted to stay within the bounds since start. */
  get evictions(): number {
    return this.#evictions;
  }

  stats(): PageCacheStats {
    return { entries: this.#entries.size, bytes: this.#bytes };
  }

  /** Tariffs with pages (each holds one document alive). */
  get tariffs(): number {
    return this.#tariffs.size;
  }

  #remove(key: string): void {
    const e = this.#entries.get(key);
    if (e === undefined) return;
    this.#entries.delete(key);
    this.#bytes -= e.body.length;
    const group = this.#tariffs.get(e.tariff);
    group?.keys.delete(key);
    if (group?.keys.size === 0) this.#tariffs.delete(e.tariff);
  }

  #dropTariff(tariff: string): void {
    const group = this.#tariffs.get(tariff);
    if (group === undefined) return;
    for (const key of [...group.keys]) this.#remove(key);
    this.#tariffs.delete(tariff);
  }
}

/** A strong `ETag` from the body bytes (SHA-256, 128 bits, base64url), computed once per cached page. */
export function etagOf(body: Buffer): string {
  return `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
}

/**
 * RFC 9110 §13.1.2 `If-None-Match` for a GET: true when the list holds `*` or the tag (weak comparison,
 * so `W/"x"` matches `"x"`).
 */
export function noneMatch(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  for (const part of header.split(',')) {
    const t = part.trim();
    if (t === etag || (t.startsWith('W/') && t.slice(2) === etag)) return true;
  }
  return false;
}
