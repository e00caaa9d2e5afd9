import {
  type Checked,
  CheckedSchema,
  decode,
  parseRateKey,
  type RatesDocument,
  RatesDocumentSchema,
  type TariffRef,
} from '@ratebus/schema';
import type { z } from 'zod';
import type { RejectReason } from '../hooks.js';

/**
 * Where a revision comes from: the creation time of the bucket's stream. Revisions of a deleted and
 * recreated bucket restart at 1, so they are only compared within one epoch.
 */
export type Epoch = string;

export interface HeldDocument {
  readonly key: string;
  readonly ref: TariffRef;
  readonly document: RatesDocument;
  readonly revision: number;
  readonly epoch: Epoch;
  /**
   * When the server stored the entry, on this pod's clock at receipt (ServerClock.storedAt), ms; unknown for
   * copies persisted by older versions.
   */
  readonly storedAt?: number | undefined;
}

export interface HeldCheck {
  readonly checked: Checked;
  readonly revision: number;
  readonly epoch: Epoch;
  /** As for {@link HeldDocument.storedAt}. */
  readonly storedAt?: number | undefined;
}

/** When the held content was last confirmed: by the writer's clock, and by the server's (when known). */
export interface Confirmation {
  /** max(document.fetchedAt, checkedAt of a check of the same content), ms. */
  readonly at: number;
  /** When the server stored the entries that gave `at` (the later of the two when both count), ms. */
  readonly storedAt: number | undefined;
}

/** The confirmation of a document by itself and a Checked record, which counts only for the same content. */
export function confirmationOf(
  doc: RatesDocument,
  docStoredAt: number | undefined,
  check: Checked | null | undefined,
  checkStoredAt: number | undefined,
): Confirmation {
  const fetched = Date.parse(doc.fetchedAt);
  if (!check || check.contentHash !== doc.contentHash) return { at: fetched, storedAt: docStoredAt };
  const storedAt =
    docStoredAt === undefined || checkStoredAt === undefined
      ? undefined
      : Math.max(docStoredAt, checkStoredAt);
  return { at: Math.max(fetched, Date.parse(check.checkedAt)), storedAt };
}

export type ApplyResult =
  | { readonly kind: 'applied' }
  | { readonly kind: 'duplicate' }
  | { readonly kind: 'rejected'; readonly reason: RejectReason };

const APPLIED: ApplyResult = { kind: 'applied' };
const DUPLICATE: ApplyResult = { kind: 'duplicate' };
const reject = (reason: RejectReason): ApplyResult => ({ kind: 'rejected', reason });

function refOf(key: string): TariffRef | null {
  try {
    return parseRateKey(key);
  } catch {
    return null;
  }
}

/**
 * The checks a PUT of either bucket passes before its own rules: the key names a tariff, the revision is
 * newer than the held one (skipped when rebasing), the payload is valid and names the key's tariff.
 */
function admit<S extends typeof RatesDocumentSchema | typeof CheckedSchema>(
  key: string,
  payload: Uint8Array | string,
  held: { revision: number; epoch: Epoch } | undefined,
  revision: number,
  epoch: Epoch,
  rebase: boolean,
  schema: S,
  messageType: string,
): { ref: TariffRef; value: z.infer<S> } | { result: ApplyResult } {
  const ref = refOf(key);
  if (!ref) return { result: reject('invalid-key') };
  const rv = rebase ? null : revisionVerdict(held, revision, epoch);
  if (rv) return { result: rv };
  const r = decode(schema, messageType, payload);
  if (!r.ok) return { result: reject('invalid-payload') };
  const value = r.value as z.infer<S>;
  if (value.product !== ref.product || value.tariff !== ref.tariff) return { result: reject('key-mismatch') };
  return { ref, value };
}

/** Same epoch and not newer → a replay (equal) or an out-of-order old message (lower). */
function revisionVerdict(
  held: { revision: number; epoch: Epoch } | undefined,
  revision: number,
  epoch: Epoch,
) {
  if (!held || held.epoch !== epoch) return null;
  if (revision === held.revision) return DUPLICATE;
  if (revision < held.revision) return reject('older-revision');
  return null;
}

const coverage = (s: string | null): number => (s === null ? Number.NEGATIVE_INFINITY : Date.parse(s));

/**
 * The pod's copy of the rates and checks buckets, applied idempotently by revision, with every rejection
 * rule in one place. Pure: no I/O, no clock.
 */
export class LocalCopy {
  private readonly docs = new Map<string, HeldDocument>();
  private readonly checks = new Map<string, HeldCheck>();

  document(key: string): HeldDocument | undefined {
    return this.docs.get(key);
  }

  check(key: string): HeldCheck | undefined {
    return this.checks.get(key);
  }

  keys(): IterableIterator<string> {
    return this.docs.keys();
  }

  checkKeys(): IterableIterator<string> {
    return this.checks.keys();
  }

  get size(): number {
    return this.docs.size;
  }

  /** Confirmation time, ms: the later of the document's fetch and a check of the same content. */
  confirmedAt(key: string): number | undefined {
    return this.confirmation(key)?.at;
  }

  /** The confirmation of the held document, with the server's timestamp of its entries. */
  confirmation(key: string): Confirmation | undefined {
    const d = this.docs.get(key);
    if (!d) return undefined;
    const c = this.checks.get(key);
    return confirmationOf(d.document, d.storedAt, c?.checked, c?.storedAt);
  }

  /**
   * Applies a `ratebus-rates` PUT. With `rebase` (the stream leader confirmed that the bucket no longer has
   * the held revision: it lost or renumbered writes), a lower revision is taken; term and coverage
   * rules still apply. `storedAt`: when the server stored the entry, on this pod's clock, ms.
   */
  applyDocument(
    key: string,
    payload: Uint8Array | string,
    revision: number,
    epoch: Epoch,
    rebase = false,
    storedAt?: number,
  ): ApplyResult {
    const held = this.docs.get(key);
    const a = admit(key, payload, held, revision, epoch, rebase, RatesDocumentSchema, 'RatesDocument');
    if ('result' in a) return a.result;
    const { ref, value: doc } = a;
    // Terms and coverage are compared within one bucket epoch: a recreated system starts over at term 1.
    if (held && held.epoch === epoch) {
      const h = held.document;
      if (doc.term < h.term) return reject('older-term');
      if (doc.term === h.term && coverage(doc.coversThrough) < coverage(h.coversThrough)) {
        return reject('regressed-coverage');
      }
    }
    this.docs.set(key, { key, ref, document: doc, revision, epoch, storedAt });
    return APPLIED;
  }

  /**
   * Applies a `ratebus-checks` PUT; `rebase` and `storedAt` as for {@link applyDocument}. Checks are ordered by
   * revision only, whatever their term: a check confirms nothing but the content it names, at a time bounded
   * by the server's timestamp, so one from a deposed or foreign term (a last-resort lock won above the
   * fetcher's term) can at worst make the copy look older until the next check, while refusing lower terms
   * after it would lock out every later check of a healthy fetcher. Writers fence their checks instead.
   */
  applyCheck(
    key: string,
    payload: Uint8Array | string,
    revision: number,
    epoch: Epoch,
    rebase = false,
    storedAt?: number,
  ): ApplyResult {
    const held = this.checks.get(key);
    const a = admit(key, payload, held, revision, epoch, rebase, CheckedSchema, 'Checked');
    if ('result' in a) return a.result;
    this.checks.set(key, { checked: a.value, revision, epoch, storedAt });
    return APPLIED;
  }

  /** Restores a document persisted earlier; validated again by the caller's loader. */
  restore(doc: HeldDocument, check: HeldCheck | null): void {
    this.docs.set(doc.key, doc);
    if (check) this.checks.set(doc.key, check);
  }

  /** A DEL/PURGE of a document; ignored when it is not newer than the held copy. */
  removeDocument(key: string, revision: number, epoch: Epoch): boolean {
    const held = this.docs.get(key);
    if (!held || (held.epoch === epoch && revision <= held.revision)) return false;
    this.docs.delete(key);
    return true;
  }

  /** A DEL/PURGE of a check record. */
  removeCheck(key: string, revision: number, epoch: Epoch): boolean {
    const held = this.checks.get(key);
    if (!held || (held.epoch === epoch && revision <= held.revision)) return false;
    this.checks.delete(key);
    return true;
  }
}
