import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type RateSlot, type RatesDocument, tariffRef } from '@ratebus/schema';
import type { Logger } from 'pino';
import { stringify } from 'yaml';
import { MirrorWriteError } from './errors.js';

/** Format marker written into every mirror file, bumped if the layout ever changes. */
export const MIRROR_FORMAT = 'ratebus-tariff-mirror/1';

/** Temp files are dot-files (invisible to `*.yaml` globs) named so that a crash's leftovers are recognised. */
const TEMP_RE = /^\.[A-Z0-9-]+_[A-Z0-9-]+\.yaml\.\d+-[0-9a-f]{8}\.tmp$/;

/** One row with the upstream field names. */
type Row = Pick<RateSlot, 'value_exc_vat' | 'value_inc_vat' | 'valid_from' | 'valid_to' | 'payment_method'>;

/**
 * The YAML content of one mirror file: the upstream rows under the upstream link `rel` names (newest first,
 * all payment methods, exactly as held) plus what a reader needs to judge them.
 */
export function mirrorContent(doc: RatesDocument): Record<string, unknown> {
  const rows = (r: readonly RateSlot[]): Row[] =>
    r.map((s) => ({
      value_exc_vat: s.value_exc_vat,
      value_inc_vat: s.value_inc_vat,
      valid_from: s.valid_from,
      valid_to: s.valid_to,
      payment_method: s.payment_method,
    }));
  const rates =
    doc.registerKind === 'standard'
      ? { standard_unit_rates: rows(doc.unitRates) }
      : { day_unit_rates: rows(doc.dayUnitRates), night_unit_rates: rows(doc.nightUnitRates) };
  return {
    format: MIRROR_FORMAT,
    product: doc.product,
    tariff: doc.tariff,
    fuel: doc.fuel,
    region: doc.region,
    direction: doc.direction,
    register_kind: doc.registerKind,
    fetched_at: doc.fetchedAt,
    covers_through: doc.coversThrough,
    window_from: doc.window.from,
    window_to: doc.window.to,
    content_hash: doc.contentHash,
    term: doc.term,
    ...rates,
    standing_charges: rows(doc.standingCharges),
  };
}

/** `{dir}/shared/tariffs` — the original shared file-cache layout. */
export function tariffsDir(mirrorDir: string): string {
  return join(mirrorDir, 'shared', 'tariffs');
}

/** File name of a tariff; the codes are validated (and must belong together) before they become a name. */
export function mirrorFileName(product: string, tariff: string): string {
  const ref = tariffRef(product, tariff);
  return `${ref.product}_${ref.tariff}.yaml`;
}

/**
 * Writes `path` atomically: a temp file `.{name}.{pid}-{8 hex}.tmp` in the same directory, fsync, rename,
 * then fsync of the directory. The temp file is removed on every failure.
 */
export async function writeFileAtomic(dir: string, name: string, text: string, mode = 0o644): Promise<void> {
  const tmp = join(dir, `.${name}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(tmp, 'wx', mode);
    // The umask applies to open(); the mode asked for is the mode meant (e.g. group-writable).
    await fh.chmod(mode);
    await fh.writeFile(text, 'utf8');
    await fh.sync();
    await fh.close();
    fh = undefined;
    await rename(tmp, join(dir, name));
  } catch (e) {
    await fh?.close().catch(() => undefined);
    await rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
  // Make the rename itself durable; not every file system allows fsync on a directory.
  try {
    const d = await open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    // best effort
  }
}

export interface MirrorWriterOptions {
  /** The mirror root (`MIRROR_DIR`); files go to `{dir}/shared/tariffs/`. */
  dir: string;
  logger: Logger;
  /** Called after each attempt (metrics). */
  onWrite?: (outcome: 'ok' | 'error') => void;
}

/**
 * Keeps one YAML file per tariff in the original shared-cache layout. Writes for one tariff never overlap and
 * coalesce to the newest document; a failed write is logged and counted, never thrown.
 */
export class MirrorWriter {
  readonly dir: string;
  private readonly logger: Logger;
  private readonly onWrite: ((outcome: 'ok' | 'error') => void) | undefined;
  private readonly latest = new Map<string, RatesDocument>();
  private readonly written = new Map<string, string>();
  private readonly chains = new Map<string, Promise<void>>();
  private prepared: Promise<void> | null = null;

  constructor(opts: MirrorWriterOptions) {
    this.dir = tariffsDir(opts.dir);
    this.logger = opts.logger;
    this.onWrite = opts.onWrite;
  }

  /** Creates the directory and removes temp files a crashed writer left behind. Idempotent. */
  prepare(): Promise<void> {
    this.prepared ??= (async () => {
      await mkdir(this.dir, { recursive: true });
      for (const name of await readdir(this.dir)) {
        if (TEMP_RE.test(name)) await rm(join(this.dir, name), { force: true });
      }
    })().catch((e: unknown) => {
      this.prepared = null; // try again on the next write
      throw e;
    });
    return this.prepared;
  }

  /** Mirrors a document; resolves when it (or a newer one for the same tariff) is on disk or has failed. */
  write(doc: RatesDocument): Promise<void> {
    let name: string;
    try {
      name = mirrorFileName(doc.product, doc.tariff);
    } catch (e) {
      this.report(new MirrorWriteError(String(doc.tariff), { cause: e }));
      return Promise.resolve();
    }
    this.latest.set(name, doc);
    const run = (this.chains.get(name) ?? Promise.resolve()).then(() => this.flush(name));
    this.chains.set(name, run);
    return run.then(() => {
      if (this.chains.get(name) === run) this.chains.delete(name);
    });
  }

  /** Waits for every queued write. */
  async idle(): Promise<void> {
    while (this.chains.size > 0) await Promise.all([...this.chains.values()]);
  }

  private async flush(name: string): Promise<void> {
    const doc = this.latest.get(name);
    if (!doc || this.written.get(name) === doc.contentHash + doc.fetchedAt) return;
    try {
      await this.prepare();
      await writeFileAtomic(this.dir, name, stringify(mirrorContent(doc), { lineWidth: 0 }));
      this.written.set(name, doc.contentHash + doc.fetchedAt);
      this.onWrite?.('ok');
      this.logger.debug({ file: name, contentHash: doc.contentHash }, 'mirror file written');
    } catch (e) {
      this.report(new MirrorWriteError(name, { cause: e }));
    }
  }

  private report(err: MirrorWriteError): void {
    this.onWrite?.('error');
    const cause = err.cause instanceof Error ? err.cause.message : String(err.cause);
    this.logger.error({ err: { code: err.code, file: err.file }, cause }, 'mirror write failed');
  }
}
