import { NoRespondersError, RequestError, TimeoutError } from '@nats-io/transport-node';
import {
  decode,
  ERROR_CODE_HEADER,
  ERROR_HEADER,
  type RatesDocument,
  RatesDocumentSchema,
  type RefreshRequest,
  SCHEMA_VERSION,
  type TariffRef,
} from '@ratebus/schema';

/** The first error of type `t` in `e`'s cause chain, or null. */
export function findCause<T extends Error>(e: unknown, t: abstract new (...a: never[]) => T): T | null {
  for (let cur: unknown = e; cur instanceof Error; cur = cur.cause) if (cur instanceof t) return cur;
  return null;
}

/** True when a request failed because nobody subscribes to its subject (no fetcher leads, for a refresh). */
export function isNoResponders(e: unknown): boolean {
  if (findCause(e, NoRespondersError)) return true;
  const r = findCause(e, RequestError);
  return r?.isNoResponders() ?? false;
}

/** True when a request got no reply within its timeout. */
export function isRequestTimeout(e: unknown): boolean {
  return findCause(e, TimeoutError) !== null;
}

/** A refresh request for `ref`, sent by `by` (a connection name); `force` asks for an upstream fetch. */
export function refreshRequest(ref: TariffRef, by: string, force = false): RefreshRequest {
  return {
    type: 'refresh-request',
    schemaVersion: SCHEMA_VERSION,
    product: ref.product,
    tariff: ref.tariff,
    by,
    ...(force ? { force: true } : {}),
  };
}

/** The code a reply gets when its body is not a valid document of the tariff asked for. */
export const INVALID_REPLY = 'INVALID_REPLY';

/**
 * A fetcher's answer to a refresh request: the document, or the error its headers carry (`code` from
 * `Ratebus-Error-Code`, `message` from `Ratebus-Error`, empty when absent), or {@link INVALID_REPLY} when the
 * body is not a valid document of the tariff asked for.
 */
export type RefreshReply =
  | { readonly ok: true; readonly document: RatesDocument }
  | { readonly ok: false; readonly code: string; readonly message: string; readonly cause?: Error };

/** Decodes a reply to a refresh request for `ref`. Never throws. */
export function decodeRefreshReply(
  ref: TariffRef,
  reply: { readonly headers?: { get(k: string): string } | undefined; readonly data: Uint8Array },
): RefreshReply {
  const code = reply.headers?.get(ERROR_CODE_HEADER);
  if (code) return { ok: false, code, message: reply.headers?.get(ERROR_HEADER) ?? '' };
  const r = decode(RatesDocumentSchema, 'RatesDocument', reply.data);
  if (!r.ok) return { ok: false, code: INVALID_REPLY, message: r.error.message, cause: r.error };
  if (r.value.product !== ref.product || r.value.tariff !== ref.tariff) {
    return {
      ok: false,
      code: INVALID_REPLY,
      message: `the reply is for ${r.value.product} ${r.value.tariff}`,
    };
  }
  return { ok: true, document: r.value };
}
