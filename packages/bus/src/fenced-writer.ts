import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { checkedOf, type RatesDocument, ratesSubject, type TariffRef } from '@ratebus/schema';
import { isCasLoss } from './kv.js';
import type { Fence } from './lease.js';

/** Lost compare-and-sets a writer reads again and retries after, before it gives up with the last one. */
const CAS_RETRIES = 2;

const encoder = new TextEncoder();

/** What a document write replaces: the stored document (null: none, or not a valid one) and its key's
 *  revision (null: never written, so the write is a `create`). */
export interface StoredDocument {
  readonly doc: RatesDocument | null;
  readonly revision: number | null;
}

export interface PublishDocumentOptions<R> {
  readonly nc: NatsConnection;
  /** The `ratebus-rates` bucket. */
  readonly rates: KV;
  readonly fence: Fence;
  readonly ref: TariffRef;
  readonly key: string;
  /** The document, built under `fence.term`. */
  readonly doc: RatesDocument;
  readonly stored: StoredDocument;
  /** Guards the document against the stored one before every write; a rejection stops the write. */
  guard(stored: RatesDocument | null): R | null;
  /** After a lost CAS: the store read again. Throws to stop (a newer term wrote, or it is not needed). */
  reread(): Promise<StoredDocument>;
  /** Called as soon as the write is stored, before the fence is checked again and the bytes published. */
  onStored?(revision: number, bytes: Uint8Array): void;
}

export type PublishResult<R> =
  | { readonly kind: 'published'; readonly revision: number; readonly bytes: Uint8Array }
  | { readonly kind: 'unchanged' }
  | { readonly kind: 'rejected'; readonly rejection: R };

/**
 * The fenced write of a document, shared by the elected fetcher and a pod's last resort: unless the stored
 * document has the same content, a CAS write into `ratebus-rates` (create, or update at the stored revision)
 * with the fence checked right before it, then the same bytes on `ratebus.rates.{product}.{tariff}` with the
 * fence checked again. A lost CAS reads the store again (`reread`) and retries, at most twice. Throws what
 * the fence, the write or `reread` throws.
 */
export async function publishDocument<R>(o: PublishDocumentOptions<R>): Promise<PublishResult<R>> {
  let stored = o.stored;
  const bytes = encoder.encode(JSON.stringify(o.doc));
  for (let attempt = 0; stored.doc?.contentHash !== o.doc.contentHash; attempt++) {
    const rejection = o.guard(stored.doc);
    if (rejection) return { kind: 'rejected', rejection };
    o.fence.assertLeading();
    try {
      const revision =
        stored.revision === null
          ? await o.rates.create(o.key, bytes)
          : await o.rates.update(o.key, bytes, stored.revision);
      o.onStored?.(revision, bytes);
      o.fence.assertLeading();
      o.nc.publish(ratesSubject(o.ref.product, o.ref.tariff), bytes);
      return { kind: 'published', revision, bytes };
    } catch (e) {
      if (!isCasLoss(e) || attempt >= CAS_RETRIES) throw e;
      stored = await o.reread();
    }
  }
  return { kind: 'unchanged' };
}

/** A stored Checked record: its revision (the CAS base of the next) and term (null when unreadable). */
export interface StoredCheck {
  readonly revision: number;
  readonly term: number | null;
}

export interface WriteCheckedOptions {
  /** The `ratebus-checks` bucket. */
  readonly checks: KV;
  readonly fence: Fence;
  readonly key: string;
  /** The document this record confirms (its fetch time, hash, coverage and term, the fence's). */
  readonly doc: RatesDocument;
  /** The stored record (null: none). */
  readonly stored: StoredCheck | null;
  /** After a lost CAS: the stored record read again. */
  reread(): Promise<StoredCheck | null>;
}

export type WriteCheckedResult =
  | { readonly kind: 'written'; readonly revision: number }
  | { readonly kind: 'newer'; readonly storedTerm: number };

/**
 * The Checked record of a document, fenced like the document: CAS on the stored record's revision, so a late
 * write of an ended term cannot land over a newer one, and never over a record of a newer term (`newer`:
 * a later election confirmed it, and its record stands). A lost CAS reads again and retries, at most twice.
 */
export async function writeChecked(o: WriteCheckedOptions): Promise<WriteCheckedResult> {
  const bytes = JSON.stringify(checkedOf(o.doc));
  let base = o.stored;
  for (let attempt = 0; ; attempt++) {
    const storedTerm = base?.term ?? 0;
    if (storedTerm > o.fence.term) return { kind: 'newer', storedTerm };
    o.fence.assertLeading();
    try {
      const revision =
        base === null
          ? await o.checks.create(o.key, bytes)
          : await o.checks.update(o.key, bytes, base.revision);
      return { kind: 'written', revision };
    } catch (e) {
      if (!isCasLoss(e) || attempt >= CAS_RETRIES) throw e;
      base = await o.reread();
    }
  }
}
