import { createHash } from 'node:crypto';
import type { RatesDocument } from '@ratebus/schema';

/** Default bound on cached answers: 4,096 (a few per held tariff and client kind is the normal working set). */
export const DEFAULT_PAGE_CACHE_ENTRIES = 4_096;
/** Default bound on the bytes of cached bodies: 64 MiB. */
export const DEFAULT_PAGE_CACHE_BYTES = 64 * 1024 * 1024;

/** One computed answer of a rates endpoint: valid while the held document is the one it was made from. */
export interface CachedPage {
  /** The document the page was computed from (compared by identity: a new copy is a new object). */
  readonly document: RatesDocument;
  readonly status: number;
  /** The JSON body, encoded once. */
  readonly body: Buffer;
  /** Strong validator of the body, quoted (`"…"`), for `ETag` / `If-None-Match`. */
  readonly etag: string;
}

export interface PageCacheStats {
  readonly entries: number;
  readonly bytes: number;
}

/**
 * The answers of the rates endpoints, each computed once per (tariff, charge, origin, query) and document,
 * and reused until the document changes. Least recently used first out; bounded in entries and in bytes,
 * so unique query strings cost at most the bound, never unbounded memory.
 */
export class PageCache {
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  /** Insertion order = recency order: a hit moves its entry to the end. */
  readonly #entries = new Map<string, CachedPage>();
  #bytes = 0;
  #evictions = 0;

  constructor(opts: { maxEntries?: number; maxBytes?: number } = {}) {
    this.#maxEntries = opts.maxEntries ?? DEFAULT_PAGE_CACHE_ENTRIES;
    this.#maxBytes = opts.maxBytes ?? DEFAULT_PAGE_CACHE_BYTES;
    if (!(this.#maxEntries >= 0) || !(this.#maxBytes >= 0)) {
      throw new RangeError('page cache bounds must be ≥ 0');
    }
  }

  /** The cached page for `key` when it was computed from `document`; a page of an older copy is dropped. */
  get(key: string, document: RatesDocument): CachedPage | undefined {
    const hit = this.#entries.get(key);
    if (hit === undefined) return undefined;
    this.#entries.delete(key);
    if (hit.document !== document) {
      this.#bytes -= hit.body.length;
      return undefined;
    }
    this.#entries.set(key, hit);
    return hit;
  }

  /** Encodes and stores an answer; returns it (stored or, when larger than the whole bound, not). */
  put(key: string, document: RatesDocument, status: number, body: unknown): CachedPage {
    const bytes = Buffer.from(JSON.stringify(body));
    const page: CachedPage = { document, status, body: bytes, etag: etagOf(bytes) };
    const old = this.#entries.get(key);
    if (old !== undefined) {
      this.#entries.delete(key);
      this.#bytes -= old.body.length;
    }
    if (bytes.length > this.#maxBytes || this.#maxEntries === 0) return page;
    this.#entries.set(key, page);
    this.#bytes += bytes.length;
    while (this.#entries.size > this.#maxEntries || this.#bytes > this.#maxBytes) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) break;
      const victim = this.#entries.get(oldest.value) as CachedPage;
      this.#entries.delete(oldest.value);
      this.#bytes -= victim.body.length;
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
