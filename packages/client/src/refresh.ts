import { type NatsConnection, NoRespondersError, RequestError, TimeoutError } from '@nats-io/transport-node';
import {
  decode,
  ERROR_CODE_HEADER,
  ERROR_HEADER,
  type RatesDocument,
  RatesDocumentSchema,
  type RefreshRequest,
  ReplyErrorCode,
  refreshSubject,
  SCHEMA_VERSION,
  type TariffRef,
} from '@ratebus/schema';
import { NoFetcherError, NotFoundError, RefreshFailedError } from './errors.js';

const KNOWN_CODES = new Set<string>(Object.values(ReplyErrorCode));

/** True when a request failed because nobody subscribes to its subject. */
export function isNoResponders(e: unknown): boolean {
  return e instanceof NoRespondersError || (e instanceof RequestError && e.isNoResponders());
}

export function isRequestTimeout(e: unknown): boolean {
  return e instanceof TimeoutError || (e instanceof RequestError && e.cause instanceof TimeoutError);
}

/**
 * Asks the leading fetcher for a tariff's document. Maps the reply: `Ratebus-Error-Code: NOT_FOUND` →
 * {@link NotFoundError}, other codes → {@link RefreshFailedError}, no responders → {@link NoFetcherError};
 * timeouts are rethrown as they are (the caller retries until its own deadline).
 */
export async function requestRefresh(
  nc: NatsConnection,
  ref: TariffRef,
  by: string,
  timeoutMs: number,
): Promise<RatesDocument> {
  const subject = refreshSubject(ref.product, ref.tariff);
  const body: RefreshRequest = {
    type: 'refresh-request',
    schemaVersion: SCHEMA_VERSION,
    product: ref.product,
    tariff: ref.tariff,
    by,
  };
  let reply: Awaited<ReturnType<NatsConnection['request']>>;
  try {
    reply = await nc.request(subject, JSON.stringify(body), { timeout: timeoutMs });
  } catch (e) {
    if (isNoResponders(e)) throw new NoFetcherError(subject, { cause: e });
    throw e;
  }
  const code = reply.headers?.get(ERROR_CODE_HEADER);
  if (code) {
    const message = reply.headers?.get(ERROR_HEADER) || code;
    if (code === ReplyErrorCode.NotFound) throw new NotFoundError(ref.product, ref.tariff);
    const known = KNOWN_CODES.has(code) ? (code as ReplyErrorCode) : ReplyErrorCode.Internal;
    throw new RefreshFailedError(known, message);
  }
  const r = decode(RatesDocumentSchema, 'RatesDocument', reply.data);
  if (!r.ok)
    throw new RefreshFailedError(ReplyErrorCode.Internal, 'reply is not a valid rates document', {
      cause: r.error,
    });
  if (r.value.product !== ref.product || r.value.tariff !== ref.tariff) {
    throw new RefreshFailedError(ReplyErrorCode.Internal, 'reply names another tariff');
  }
  return r.value;
}
