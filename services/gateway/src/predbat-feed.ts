import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type ProductCode,
  productCode,
  type RatesDocument,
  rateKey,
  type TariffRef,
  tariffRef,
} from '@ratebus/schema';
import type { Logger } from 'pino';
import { PredbatWriteError } from './errors.js';
import { writeFileAtomic } from './mirror.js';
import { refOfUpdate } from './mirror-sync.js';
import {
  ENTRY_META_RE,
  entryFiles,
  jsonToYaml11,
  metaText,
  PredbatMetaSchema,
  parseCreated,
} from './predbat-format.js';
import {
  chargesOf,
  DEFAULT_FLUX_IMPORT_PRODUCT,
  KeyIndex,
  type PredbatEntry,
  productEntry,
  publicTariffFor,
  ratesEntry,
} from './predbat-urls.js';
import { answerRates, type RatesPage } from './rates-page.js';
import type { Charge } from './routes.js';
import {
  classifyEnsureError,
  type HeldRateView,
  type SourceUpdate,
  type UpdatingRateSource,
} from './source.js';
import type { UrlCache } from './url-cache.js';

/** Default directory scan (discovery, product detail, missed updates): every 30 s. */
export const DEFAULT_PREDBAT_SCAN_INTERVAL_MS = 30_000;
/**
 * Ask the URL cache for a product again once its entry is this old: 15 min. The cache answers from its copy
 * until that expires (`urlCacheTtlMs`), so an entry's age stays below that TTL plus {@link PRODUCT_ASK_MS}.
 */
export const DEFAULT_PREDBAT_PRODUCT_REFRESH_MS = 15 * 60_000;
/** Spacing of those asks while the cache still returns the old copy: 1 min. */
const PRODUCT_ASK_MS = 60_000;
/** Pages PredBat reads of a bare rates URL, and their size (the upstream default). */
export const PREDBAT_PAGES = 3;
/** PredBat reads rates from 24 h before midnight UTC to 48 h after it. */
export const PREDBAT_READ_BEFORE_MS = 24 * 3_600_000;
export const PREDBAT_READ_AFTER_MS = 48 * 3_600_000;
/** How often the list of products is read for discovery: 1 h. */
const PRODUCTS_LIST_INTERVAL_MS = 3_600_000;
/** Entry files are group-writable: PredBat (same fsGroup) must be able to rewrite them when ratebus is down. */
const FILE_MODE = 0o664;
/** Temp files of this feed: dot-files named so a crash's leftovers are recognised (and nothing else is). */
const TEMP_RE = /^\.octopus_[0-9a-f]{16}\.(?:yaml|meta)\.\d+-[0-9a-f]{8}\.tmp$/;

/** What happened to one entry. */
export type PredbatWriteOutcome = 'written' | 'unchanged' | 'kept-newer' | 'unreadable' | 'error';

/** What the feed needs of the rate client: updates, and the held tariffs (their products feed discovery). */
export interface PredbatSource extends UpdatingRateSource {
  tariffs?(): Iterable<TariffRef>;
}

export interface PredbatFeedOptions {
  /** PredBat's cache directory (`{config_root}/cache`), shared with the PredBat container. */
  dir: string;
  source: PredbatSource;
  /** Product detail comes from the fetchers' shared URL cache; without it no product entries are written. */
  urlCache?: UrlCache;
  logger: Logger;
  /** The account's tariffs (INTELLI-FLUX-EXPORT ones are fed as PredBat reads them: the FLUX-IMPORT fallback). */
  tariffs?: readonly TariffRef[];
  /** FLUX-IMPORT product of the INTELLI-FLUX-EXPORT fallback. Default FLUX-IMPORT-23-02-14. */
  fluxImportProduct?: string;
  /** Directory scan period, ms. Default 30000. */
  scanIntervalMs?: number;
  /** Product entries older than this are asked for again, ms. Default 5 min. */
  productRefreshMs?: number;
  /** Bound of an interest declaration (`ensure()`), ms. Default 10000. */
  ensureTimeoutMs?: number;
  /** Clock, ms since the epoch (the simulator's in demos). Default Date.now. */
  now?: () => number;
  /** Called for every entry considered (metrics). */
  onWrite?: (outcome: PredbatWriteOutcome) => void;
}

/** Counters since start, for tests and logs. */
export interface PredbatFeedStats {
  scans: number;
  feeds: number;
  written: number;
  unchanged: number;
  keptNewer: number;
  unreadable: number;
  errors: number;
  /** Tariffs fed because PredBat had written one of their entries. */
  discovered: number;
}

/**
 * Keeps PredBat's storage-cache entries (`octopus_{key}.yaml` + `.meta`, see `docs/predbat.md`) for the
 * public rate URLs of the pod's tariffs — configured ones and ones discovered from entries PredBat wrote
 * itself — so PredBat's API-key mode finds them fresh and never calls upstream for them.
 *
 * Rules: an entry's value is what the gateway answers for the bare URL (≤ 3 pages of 100, newest first) or
 * the upstream product object; its `created` is when the fetcher last confirmed that content (never "now");
 * both files are replaced atomically, `.yaml` before `.meta` (a reader never pairs new `created` with old
 * content); an entry whose `.meta` says it is newer is left alone; nothing but `octopus_{key}` files of fed
 * URLs (and this feed's own temp files) is ever touched. Writes are serial; failures are logged and counted.
 */
export class PredbatFeed {
  readonly dir: string;
  readonly #options: PredbatFeedOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  /** Public tariffs fed, by rate key. */
  readonly #fed = new Map<string, TariffRef>();
  /** Tariffs whose interest is declared (or being declared). */
  readonly #declared = new Set<string>();
  readonly #index = new KeyIndex();
  /** Key → `created:hash` of what this feed last wrote there. */
  readonly #written = new Map<string, string>();
  /** Product → `created` (ms) of its entry as last written, and when it was last asked for. */
  readonly #products = new Map<ProductCode, { createdMs: number; askedAt: number }>();
  readonly #dirty = new Set<string>();
  readonly #warned = new Set<string>();
  #running: Promise<void> | null = null;
  #timer: NodeJS.Timeout | null = null;
  #unsubscribe: (() => void) | null = null;
  #scanning: Promise<void> | null = null;
  #productsListAt = Number.NEGATIVE_INFINITY;
  readonly stats: PredbatFeedStats = {
    scans: 0,
    feeds: 0,
    written: 0,
    unchanged: 0,
    keptNewer: 0,
    unreadable: 0,
    errors: 0,
    discovered: 0,
  };

  constructor(opts: PredbatFeedOptions) {
    this.#options = opts;
    this.dir = opts.dir;
    this.#log = opts.logger;
    this.#now = opts.now ?? Date.now;
    const flux = opts.fluxImportProduct ?? DEFAULT_FLUX_IMPORT_PRODUCT;
    for (const ref of opts.tariffs ?? []) {
      const pub = publicTariffFor(ref, flux);
      this.#fed.set(rateKey(pub.product, pub.tariff), pub);
      this.#index.addProduct(pub.product);
    }
  }

  /** Creates the directory, removes this feed's leftover temp files, starts listening and scanning. */
  async start(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    for (const name of await readdir(this.dir)) {
      if (TEMP_RE.test(name)) await rm(join(this.dir, name), { force: true });
    }
    const listener = (e: SourceUpdate): void => {
      const ref = refOfUpdate(e);
      if (ref && this.#fed.has(rateKey(ref.product, ref.tariff))) this.#schedule(ref);
    };
    const off = this.#options.source.on('update', listener);
    this.#unsubscribe = () => {
      if (typeof off === 'function') off();
      else this.#options.source.off?.('update', listener);
    };
    void this.scan();
    this.#timer = setInterval(
      () => void this.scan(),
      this.#options.scanIntervalMs ?? DEFAULT_PREDBAT_SCAN_INTERVAL_MS,
    );
    this.#timer.unref();
  }

  /** Stops scanning and listening; waits for the writes in flight. */
  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    await this.#scanning;
    await this.idle();
  }

  /** The public tariffs fed now. */
  fedTariffs(): TariffRef[] {
    return [...this.#fed.values()];
  }

  /** Resolves when no write is queued or running. */
  async idle(): Promise<void> {
    for (let r = this.#running; r !== null; r = this.#running) await r;
  }

  /**
   * One scan: recognises entries PredBat wrote for tariffs ratebus can serve (discovery), then re-feeds
   * every fed tariff (product detail coming due, updates missed while disconnected). Never rejects.
   */
  scan(): Promise<void> {
    this.#scanning ??= this.#scan()
      .catch((e: unknown) => this.#log.warn({ err: errInfo(e) }, 'PredBat cache scan failed'))
      .finally(() => {
        this.#scanning = null;
      });
    return this.#scanning;
  }

  async #scan(): Promise<void> {
    this.stats.scans++;
    await this.#learnProducts();
    for (const name of await readdir(this.dir)) {
      const m = ENTRY_META_RE.exec(name);
      if (!m) continue;
      const ref = this.#index.lookup(m[1] as string);
      if (!ref) continue;
      const k = rateKey(ref.product, ref.tariff);
      if (this.#fed.has(k)) continue;
      this.#fed.set(k, ref);
      this.stats.discovered++;
      this.#log.info({ product: ref.product, tariff: ref.tariff }, 'PredBat reads this tariff: feeding it');
    }
    for (const ref of this.#fed.values()) this.#schedule(ref);
    await this.idle();
  }

  /** Products whose candidate tariffs are recognised: held, fed, and listed upstream (hourly, best effort). */
  async #learnProducts(): Promise<void> {
    for (const ref of this.#options.source.tariffs?.() ?? []) {
      this.#index.addProduct(ref.product);
      this.#index.addTariff(ref);
    }
    const cache = this.#options.urlCache;
    const now = this.#now();
    if (!cache || now - this.#productsListAt < PRODUCTS_LIST_INTERVAL_MS) return;
    this.#productsListAt = now;
    const r = await cache.get('/v1/products/');
    if (!r.ok || r.response.status !== 200) {
      // Not connected yet, or no fetcher: try again in a minute rather than in an hour.
      this.#productsListAt = now - PRODUCTS_LIST_INTERVAL_MS + 60_000;
      return;
    }
    try {
      const body = JSON.parse(r.response.body) as { results?: Array<{ code?: unknown }> };
      for (const p of body.results ?? []) {
        try {
          this.#index.addProduct(productCode(p.code));
        } catch {
          // not a code we could ever serve
        }
      }
    } catch {
      this.#log.debug('products list is not JSON; discovery uses held products only');
    }
  }

  #schedule(ref: TariffRef): void {
    this.#dirty.add(rateKey(ref.product, ref.tariff));
    this.#running ??= this.#drain().finally(() => {
      this.#running = null;
    });
  }

  async #drain(): Promise<void> {
    for (;;) {
      const k = this.#dirty.values().next();
      if (k.done) return;
      this.#dirty.delete(k.value);
      const ref = this.#fed.get(k.value);
      if (!ref) continue;
      try {
        await this.#feed(ref);
      } catch (e) {
        this.#log.warn({ err: errInfo(e), tariff: ref.tariff }, 'PredBat feed of a tariff failed');
      }
    }
  }

  /** Writes every entry of one tariff from the held copy, declaring interest first if needed. */
  async #feed(ref: TariffRef): Promise<void> {
    this.stats.feeds++;
    const k = rateKey(ref.product, ref.tariff);
    this.#declare(ref, k);
    const held = this.#options.source.get(ref.product, ref.tariff);
    if (!held) return; // the update after ensure() brings it here again
    const now = this.#now();
    const doc = held.document;
    if (Date.parse(doc.window.from) > midnightUtc(now) - PREDBAT_READ_BEFORE_MS) {
      // The entry would miss rows PredBat reads: leave the URL to PredBat rather than claim a partial copy.
      if (!this.#warned.has(k)) {
        this.#warned.add(k);
        this.#log.warn(
          { tariff: ref.tariff, windowFrom: doc.window.from },
          'document window starts after what PredBat reads (schedule.windowDays < 2?): not fed',
        );
      }
      return;
    }
    const createdMs = confirmedAtMs(held, now);
    for (const charge of chargesOf(ref.tariff, doc.registerKind)) {
      const entry = ratesEntry(ref, charge);
      const json = predbatRatesJson(doc, charge);
      if (json === null) continue;
      await this.#write(entry, jsonToYaml11(json), createdMs);
    }
    await this.#feedProduct(ref.product, now);
  }

  #declare(ref: TariffRef, k: string): void {
    if (this.#declared.has(k)) return;
    this.#declared.add(k);
    this.#options.source
      .ensure(ref.product, ref.tariff, { timeoutMs: this.#options.ensureTimeoutMs ?? 10_000 })
      .then(
        () => this.#schedule(ref),
        (e: unknown) => {
          const failure = classifyEnsureError(e);
          // Not found: stays undeclared, asked again on the next scan (the fetcher remembers the miss a while).
          this.#declared.delete(k);
          this.#log.info({ tariff: ref.tariff, outcome: failure }, 'PredBat tariff not available yet');
        },
      );
  }

  async #feedProduct(product: ProductCode, now: number): Promise<void> {
    const cache = this.#options.urlCache;
    if (!cache) return;
    const st = this.#products.get(product);
    const refreshMs = this.#options.productRefreshMs ?? DEFAULT_PREDBAT_PRODUCT_REFRESH_MS;
    if (st && (now - st.createdMs < refreshMs || now - st.askedAt < Math.min(PRODUCT_ASK_MS, refreshMs)))
      return;
    const entry = productEntry(product);
    const r = await cache.get(entry.path);
    const createdMs = r.ok ? Date.parse(r.response.fetchedAt) : (st?.createdMs ?? Number.NEGATIVE_INFINITY);
    this.#products.set(product, { createdMs, askedAt: now });
    if (!r.ok || r.response.status !== 200) {
      this.#log.debug({ product, reason: r.ok ? r.response.status : r.reason }, 'no product detail to feed');
      return;
    }
    let yaml: string;
    try {
      yaml = jsonToYaml11(r.response.body);
    } catch {
      this.#log.warn({ product }, 'product detail is not JSON: not fed');
      return;
    }
    await this.#write(entry, yaml, createdMs);
  }

  /** Replaces one entry unless what is there is newer (or is exactly this). */
  async #write(entry: PredbatEntry, yaml: string, createdMs: number): Promise<PredbatWriteOutcome> {
    const files = entryFiles(entry.key);
    const memo = `${createdMs}:${createHash('sha256').update(yaml).digest('hex')}`;
    let outcome: PredbatWriteOutcome;
    try {
      const existing = await this.#existingCreated(files.meta);
      if (existing === 'unreadable') outcome = 'unreadable';
      else if (existing !== null && existing > createdMs) outcome = 'kept-newer';
      else if (existing === createdMs && this.#written.get(entry.key) === memo) outcome = 'unchanged';
      else {
        await writeFileAtomic(this.dir, files.yaml, yaml, FILE_MODE);
        await writeFileAtomic(this.dir, files.meta, metaText(createdMs), FILE_MODE);
        this.#written.set(entry.key, memo);
        outcome = 'written';
      }
    } catch (e) {
      const err = new PredbatWriteError(files.yaml, { cause: e });
      this.#log.error(
        { err: { code: err.code, file: err.file }, cause: e instanceof Error ? e.message : String(e) },
        'PredBat cache write failed',
      );
      outcome = 'error';
    }
    this.#count(outcome);
    if (outcome === 'kept-newer' || outcome === 'unreadable') {
      this.#log.debug({ file: files.meta, outcome }, 'PredBat cache entry left as it is');
    }
    return outcome;
  }

  /** `created` of an entry in ms, null when there is none, 'unreadable' when its `.meta` cannot be read. */
  async #existingCreated(meta: string): Promise<number | null | 'unreadable'> {
    let text: string;
    try {
      text = await readFile(join(this.dir, meta), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
    // PredBat writes in place (truncate, write): a half-written `.meta` is its own, being written now.
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return 'unreadable';
    }
    const m = PredbatMetaSchema.safeParse(parsed);
    if (!m.success) return 'unreadable';
    return parseCreated(m.data.created) ?? 'unreadable';
  }

  #count(outcome: PredbatWriteOutcome): void {
    if (outcome === 'written') this.stats.written++;
    else if (outcome === 'unchanged') this.stats.unchanged++;
    else if (outcome === 'kept-newer') this.stats.keptNewer++;
    else if (outcome === 'unreadable') this.stats.unreadable++;
    else this.stats.errors++;
    this.#options.onWrite?.(outcome);
  }
}

/**
 * The value PredBat stores for a bare rates URL, as JSON text: the `results` of the first 3 pages of the
 * gateway's own answer for that URL (newest first), concatenated. Null when the gateway would not answer 200.
 */
export function predbatRatesJson(doc: RatesDocument, charge: Charge): string | null {
  const rows: unknown[] = [];
  for (let page = 1; page <= PREDBAT_PAGES; page++) {
    const a = answerRates({
      doc,
      charge,
      query: page === 1 ? [] : [['page', String(page)]],
      origin: 'http://predbat.invalid',
      canonicalPath: '/',
    });
    if (a.status !== 200) return page === 1 ? null : JSON.stringify(rows);
    const body = a.body as RatesPage;
    rows.push(...body.results);
    if (body.next === null) break;
  }
  return JSON.stringify(rows);
}

/** The fetcher's last confirmation of a held copy, ms. */
function confirmedAtMs(held: HeldRateView, now: number): number {
  return held.confirmedAt ? held.confirmedAt.getTime() : now - held.ageMs;
}

function midnightUtc(ms: number): number {
  return Math.floor(ms / 86_400_000) * 86_400_000;
}

/** Validates `product/tariff` pairs; throws InvalidCodeError. */
export function parsePredbatTariffs(list: string): TariffRef[] {
  return list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => {
      const [product, tariff, ...rest] = s.split('/');
      if (rest.length > 0 || tariff === undefined) return tariffRef(product, undefined);
      return tariffRef(product, tariff);
    });
}

function errInfo(e: unknown): Record<string, unknown> {
  if (e instanceof Error) return { name: e.name, message: e.message, code: (e as { code?: unknown }).code };
  return { value: String(e) };
}
