import type { NatsConnection } from '@nats-io/transport-node';
import { decodeRefreshReply, INVALID_REPLY, isNoResponders, refreshRequest } from '@ratebus/bus';
import { type RatesDocument, ReplyErrorCode, refreshSubject, type TariffRef } from '@ratebus/schema';
import { NoFetcherError, NotFoundError, RefreshFailedError } from './errors.js';

const KNOWN_CODES = new Set<string>(Object.values(ReplyErrorCode));

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
  let reply: Awaited<ReturnType<NatsConnection['request']>>;
  try {
    reply = await nc.request(subject, JSON.stringify(refreshRequest(ref, by)), { timeout: timeoutMs });
  } catch (e) {
    if (isNoResponders(e)) throw new NoFetcherError(subject, { cause: e });
    throw e;
  }
  const r = decodeRefreshReply(ref, reply);
  if (r.ok) return r.document;
  if (r.code === ReplyErrorCode.NotFound) throw new NotFoundError(ref.product, ref.tariff);
  if (r.code === INVALID_REPLY) {
    const detail = `reply is not a valid rates document of the tariff asked for: ${r.message}`;
    throw new RefreshFailedError(ReplyErrorCode.Internal, detail, r.cause ? { cause: r.cause } : undefined);
  }
  const known = KNOWN_CODES.has(r.code) ? (r.code as ReplyErrorCode) : ReplyErrorCode.Internal;
  throw new RefreshFailedError(known, r.message || r.code);
}
