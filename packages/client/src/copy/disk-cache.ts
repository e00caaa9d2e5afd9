import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CheckedSchema,
  RatesDocumentSchema,
  type TariffRef,
  tariffRef,
  UtcInstant,
  validate,
} from '@ratebus/schema';
import { z } from 'zod';
import { type ClientLogger, errInfo } from '../logger.js';
import type { HeldCheck, HeldDocument } from './local-copy.js';

/** Server timestamp of a KV entry, ms (absent in files written before it was kept). */
const StoredAt = z.number().int().min(0).optional();

/** On-disk form of one held document. `confirmedAt` is informative; it is recomputed on load. */
const PersistedSchema = z.strictObject({
  format: z.literal(1),
  key: z.string(),
  revision: z.number().int().min(0),
  epoch: z.string(),
  storedAt: StoredAt,
  document: RatesDocumentSchema,
  checked: z
    .strictObject({
      checked: CheckedSchema,
      revision: z.number().int().min(0),
      epoch: z.string(),
      storedAt: StoredAt,
    })
    .nullable(),
  confirmedAt: UtcInstant,
});

const FILE_RE = /^([A-Z0-9-]+)_([A-Z0-9-]+)\.json$/;

/** File name of a tariff: built only from validated codes, which cannot contain `/`, `.` or `_`. */
export function fileNameOf(ref: TariffRef): string {
  const r = tariffRef(ref.product, ref.tariff);
  return `${r.product}_${r.tariff}.json`;
}

export interface Restored {
  readonly document: HeldDocument;
  readonly check: HeldCheck | null;
}

/**
 * Atomic per-tariff files: write a temp file in the same directory, fsync it, rename over the target,
 * fsync the directory. Writes for one tariff are serialised and coalesced (the newest wins).
 */
export class DiskCache {
  private readonly pending = new Map<string, { ref: TariffRef; body: string | null }>();
  private readonly active = new Map<string, Promise<void>>();
  private dirReady: Promise<void> | null = null;
  writes = 0;
  errors = 0;

  constructor(
    readonly dir: string,
    private readonly logger: ClientLogger,
  ) {}

  /** Every valid persisted document. Bad files are logged and skipped, never fatal. */
  async loadAll(): Promise<Restored[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const out: Restored[] = [];
    for (const name of names) {
      const m = FILE_RE.exec(name);
      if (!m) continue;
      try {
        const ref = tariffRef(m[1], m[2]);
        const parsed = validate(
          PersistedSchema,
          'PersistedRates',
          JSON.parse(await readFile(join(this.dir, name), 'utf8')),
        );
        if (!parsed.ok) throw parsed.error;
        const p = parsed.value;
        const key = `${ref.product}.${ref.tariff}`;
        if (p.key !== key || p.document.product !== ref.product || p.document.tariff !== ref.tariff) {
          throw new Error('file content names another tariff');
        }
        out.push({
          document: {
            key,
            ref,
            document: p.document,
            revision: p.revision,
            epoch: p.epoch,
            storedAt: p.storedAt,
          },
          check: p.checked,
        });
      } catch (e) {
        this.errors++;
        this.logger.warn({ file: name, ...errInfo(e) }, 'ignoring unreadable cache file');
      }
    }
    return out;
  }

  /** Queues an atomic write of a held document. */
  save(doc: HeldDocument, check: HeldCheck | null, confirmedAtMs: number): void {
    const body = JSON.stringify({
      format: 1,
      key: doc.key,
      revision: doc.revision,
      epoch: doc.epoch,
      storedAt: doc.storedAt,
      document: doc.document,
      checked: check && check.checked.contentHash === doc.document.contentHash ? check : null,
      confirmedAt: new Date(confirmedAtMs).toISOString(),
    });
    this.enqueue(doc.key, doc.ref, body);
  }

  /** Queues the removal of a tariff's file. */
  remove(key: string, ref: TariffRef): void {
    this.enqueue(key, ref, null);
  }

  /** Waits until every queued write has reached the disk. */
  async flush(): Promise<void> {
    while (this.active.size > 0) await Promise.all(this.active.values());
  }

  private enqueue(key: string, ref: TariffRef, body: string | null): void {
    this.pending.set(key, { ref, body });
    if (this.active.has(key)) return;
    const run = this.drain(key).finally(() => this.active.delete(key));
    this.active.set(key, run);
  }

  private async drain(key: string): Promise<void> {
    for (let job = this.pending.get(key); job; job = this.pending.get(key)) {
      this.pending.delete(key);
      try {
        if (job.body === null) await rm(join(this.dir, fileNameOf(job.ref)), { force: true });
        else await this.writeAtomic(fileNameOf(job.ref), job.body);
        this.writes++;
      } catch (e) {
        this.errors++;
        this.logger.warn({ key, ...errInfo(e) }, 'could not persist rates');
      }
    }
  }

  private async writeAtomic(name: string, body: string): Promise<void> {
    this.dirReady ??= mkdir(this.dir, { recursive: true }).then(() => undefined);
    await this.dirReady;
    const target = join(this.dir, name);
    const tmp = join(this.dir, `.${name}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    const fh = await open(tmp, 'w', 0o644);
    try {
      await fh.writeFile(body, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await rename(tmp, target);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
    // fsync the directory so the rename itself survives a crash.
    const dh = await open(this.dir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  }
}
