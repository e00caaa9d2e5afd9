import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Agent } from 'undici';
import { parse } from 'yaml';
import { get } from '../load/http.js';

/**
 * A PredBat-like reader of PredBat's storage cache, written from the rules in docs/predbat.md §2 (no PredBat
 * code): one entry per URL, key = first 16 hex of SHA-256 of the exact URL, age = now − `.meta` `created`;
 * < 30 min → use it, 30–35 min → one refresh attempt (the stored value if it fails), ≥ 35 min or no entry →
 * fetch. What it fetches it keeps as its own newer entry, in memory: it never writes into the shared directory.
 */

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
/** Below this age an entry is used as it is. */
export const FRESH_MS = 30 * MINUTE;
/** From this age an entry is no longer used when a refresh fails. */
export const STALE_MS = 35 * MINUTE;
/** PredBat looks at least this often. */
export const READ_EVERY_MS = 10 * MINUTE;
/** Pages PredBat reads of a bare rates URL. */
const PAGES = 3;
/** The hard-coded base PredBat's API-key mode requests (and hashes). */
const PREDBAT_ORIGIN = 'https://api.octopus.energy';

export interface Tariff {
  readonly product: string;
  readonly tariff: string;
}

/** One URL PredBat reads through its storage cache. */
export interface PredbatUrl {
  readonly kind: 'product' | 'rates';
  /** Upstream path, `/v1/products/…/` with its trailing slash. */
  readonly path: string;
  /** The exact string hashed. */
  readonly url: string;
  readonly key: string;
  /** For product detail: the product code the value must carry. */
  readonly product: string;
}

export function cacheKey(url: string): string {
  return createHash('sha256').update(url, 'utf8').digest('hex').slice(0, 16);
}

function entry(kind: PredbatUrl['kind'], path: string, product: string): PredbatUrl {
  const url = `${PREDBAT_ORIGIN}${path}`;
  return { kind, path, url, key: cacheKey(url), product };
}

/**
 * The URLs PredBat reads for a set of single-register tariffs: each product's detail once, then the
 * standard unit rates and standing charges of every tariff.
 */
export function predbatUrls(tariffs: readonly Tariff[]): PredbatUrl[] {
  const out = new Map<string, PredbatUrl>();
  for (const t of tariffs) {
    const product = entry('product', `/v1/products/${t.product}/`, t.product);
    out.set(product.key, product);
    const fuel = t.tariff.startsWith('G-') ? 'gas-tariffs' : 'electricity-tariffs';
    for (const charge of ['standard-unit-rates', 'standing-charges']) {
      const e = entry('rates', `/v1/products/${t.product}/${fuel}/${t.tariff}/${charge}/`, t.product);
      out.set(e.key, e);
    }
  }
  return [...out.values()];
}

/** `created` of a `.meta` as ms (PredBat's format has microseconds and `+00:00`), or null. */
export function parseCreated(text: string): number | null {
  try {
    const meta = JSON.parse(text) as { created?: unknown };
    if (typeof meta.created !== 'string') return null;
    const ms = Date.parse(meta.created);
    return Number.isFinite(ms) ? ms : null;
  } catch {
    return null;
  }
}

/** The shared (fed) cache directory, read-only. */
export class SharedDir {
  /** `key:created` → whether the value loads as PredBat expects; each entry version is parsed once. */
  readonly #loads = new Map<string, boolean>();
  /** Entry versions whose `.yaml` did not load to a usable value. */
  unusable = 0;

  constructor(readonly dir: string) {}

  /** The entry's `created`, or null when there is none (or its `.meta` cannot be read). */
  async created(key: string): Promise<number | null> {
    const text = await readFile(join(this.dir, `octopus_${key}.meta`), 'utf8').catch(() => null);
    return text === null ? null : parseCreated(text);
  }

  /** Whether the value of an entry version loads (YAML 1.1) to what PredBat uses: rows, or the product. */
  async loads(u: PredbatUrl, created: number): Promise<boolean> {
    const memo = `${u.key}:${created}`;
    const known = this.#loads.get(memo);
    if (known !== undefined) return known;
    const text = await readFile(join(this.dir, `octopus_${u.key}.yaml`), 'utf8').catch(() => null);
    let ok = false;
    if (text !== null) {
      try {
        const v = parse(text, { version: '1.1' }) as unknown;
        ok =
          u.kind === 'rates'
            ? Array.isArray(v) && v.length > 0
            : typeof v === 'object' && v !== null && (v as { code?: unknown }).code === u.product;
      } catch {
        ok = false;
      }
    }
    if (!ok) this.unusable++;
    this.#loads.set(memo, ok);
    return ok;
  }
}

/** Why a consumer went upstream for a URL. */
export type FetchReason = 'missing' | 'refresh' | 'expired';

export interface FetchEvent {
  /** Simulated time of the decision. */
  readonly at: number;
  readonly key: string;
  readonly kind: PredbatUrl['kind'];
  readonly reason: FetchReason;
  /** Age of the newest entry it had, ms (null: none). */
  readonly ageMs: number | null;
  readonly ok: boolean;
  readonly requests: number;
}

export interface ConsumerOptions {
  /** `x-sim-caller` of its upstream GETs. */
  readonly caller: string;
  readonly urls: readonly PredbatUrl[];
  /** Simulator origin. */
  readonly upstream: string;
  readonly agent: Agent;
  /** Simulated now, ms. */
  readonly now: () => number;
  /** The fed directory; null for a PredBat on its own. */
  readonly shared: SharedDir | null;
  /** Called at every entry read with the age of the newest entry there (null: none) and where it came from. */
  readonly onRead?: (u: PredbatUrl, ageMs: number | null, from: 'shared' | 'own' | null, now: number) => void;
}

/** One PredBat instance's storage-cache reads, on the simulated clock. */
export class Consumer {
  /** What it fetched itself: key → `created`. */
  readonly own = new Map<string, number>();
  readonly events: FetchEvent[] = [];
  requests = 0;
  reads = 0;

  constructor(readonly o: ConsumerOptions) {}

  /** One look at every URL, in turn (PredBat is one process doing one thing at a time). */
  async readAll(): Promise<void> {
    for (const u of this.o.urls) await this.#read(u);
  }

  async #read(u: PredbatUrl): Promise<void> {
    this.reads++;
    const now = this.o.now();
    let created = this.own.get(u.key) ?? null;
    let from: 'shared' | 'own' | null = created === null ? null : 'own';
    const shared = this.o.shared;
    if (shared) {
      // One directory in PredBat's case: the feed never writes over a newer entry, so the newer one is there.
      const s = await shared.created(u.key);
      if (s !== null && (created === null || s > created) && (await shared.loads(u, s))) {
        created = s;
        from = 'shared';
      }
    }
    const ageMs = created === null ? null : now - created;
    this.o.onRead?.(u, ageMs, from, now);
    if (ageMs !== null && ageMs < FRESH_MS) return;
    const reason: FetchReason = ageMs === null ? 'missing' : ageMs < STALE_MS ? 'refresh' : 'expired';
    const before = this.requests;
    const ok = await this.#fetch(u);
    if (ok) this.own.set(u.key, this.o.now());
    this.events.push({
      at: now,
      key: u.key,
      kind: u.kind,
      reason,
      ageMs,
      ok,
      requests: this.requests - before,
    });
  }

  /** The upstream GETs PredBat makes for one URL: the bare URL, and `next` for rates up to 3 pages. */
  async #fetch(u: PredbatUrl): Promise<boolean> {
    let url: string | null = `${this.o.upstream}${u.path}`;
    let pages = 0;
    while (url && pages < (u.kind === 'rates' ? PAGES : 1)) {
      this.requests++;
      const r = await get(this.o.agent, url, this.o.caller);
      if (r.status !== 200) return false;
      pages++;
      if (u.kind === 'product') return true;
      try {
        url = (JSON.parse(r.body) as { next?: string | null }).next ?? null;
      } catch {
        return false;
      }
    }
    return pages > 0;
  }
}

/** A small seeded PRNG (mulberry32): the same phases for every design. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
