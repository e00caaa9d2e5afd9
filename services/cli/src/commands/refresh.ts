import { type Msg, NoRespondersError, RequestError, TimeoutError } from '@nats-io/transport-node';
import {
  decode,
  ERROR_CODE_HEADER,
  ERROR_HEADER,
  type RatesDocument,
  RatesDocumentSchema,
  type RefreshRequest,
  refreshSubject,
  SCHEMA_VERSION,
  type TariffRef,
} from '@ratebus/schema';
import { findCause, isPermissionDenied, openConnection } from '../bus.js';
import { NoFetcherError, PermissionError, RefreshError, RequestTimeoutError } from '../errors.js';
import { fields, summarize, summaryPairs } from '../format.js';
import type { CommandContext } from './context.js';

/** The refresh body this CLI sends; `by` is the connection name. */
export function refreshRequest(ref: TariffRef, by: string, force: boolean): RefreshRequest {
  return {
    type: 'refresh-request',
    schemaVersion: SCHEMA_VERSION,
    product: ref.product,
    tariff: ref.tariff,
    by,
    ...(force ? { force: true } : {}),
  };
}

/** Maps a reply to a document, or throws the typed error its headers carry. */
export function readReply(ref: TariffRef, reply: Pick<Msg, 'headers' | 'data'>): RatesDocument {
  const code = reply.headers?.get(ERROR_CODE_HEADER);
  if (code) throw new RefreshError(code, reply.headers?.get(ERROR_HEADER) || '(no message)');
  const r = decode(RatesDocumentSchema, 'RatesDocument', reply.data);
  if (!r.ok) throw new RefreshError('INVALID_REPLY', r.error.message, { cause: r.error });
  if (r.value.product !== ref.product || r.value.tariff !== ref.tariff) {
    throw new RefreshError('INVALID_REPLY', `the reply is for ${r.value.product} ${r.value.tariff}`);
  }
  return r.value;
}

/**
 * `ratebus refresh <product> <tariff> [--force]`: asks the leading fetcher on `ratebus.refresh.{p}.{t}`
 * and prints the document it answers with, or its typed error. With `--json` an error is also printed to
 * stdout as `{"error":{"code","message"}}`.
 */
export async function refresh(ctx: CommandContext, ref: TariffRef, force: boolean): Promise<number> {
  const subject = refreshSubject(ref.product, ref.tariff);
  const body = JSON.stringify(refreshRequest(ref, ctx.settings.name, force));
  const nc = await openConnection(ctx.settings, { timeoutMs: ctx.timeoutMs, persistent: false });
  try {
    let doc: RatesDocument;
    try {
      doc = readReply(ref, await request(nc, subject, body, ctx.timeoutMs));
    } catch (e) {
      if (ctx.json && e instanceof RefreshError) {
        ctx.io.out(JSON.stringify({ error: { code: e.replyCode, message: e.detail } }));
      }
      throw e;
    }
    if (ctx.json) ctx.io.out(JSON.stringify(doc, null, 2));
    else ctx.io.out(fields(summaryPairs(summarize(doc))));
    return 0;
  } finally {
    await nc.close();
  }
}

async function request(
  nc: Awaited<ReturnType<typeof openConnection>>,
  subject: string,
  body: string,
  timeoutMs: number,
): Promise<Msg> {
  try {
    return await nc.request(subject, body, { timeout: timeoutMs });
  } catch (e) {
    if (findCause(e, NoRespondersError) || (e instanceof RequestError && e.isNoResponders())) {
      throw new NoFetcherError(subject, { cause: e });
    }
    if (isPermissionDenied(e)) {
      throw new PermissionError(
        subject,
        'this user may not send refresh requests (use pod or gateway credentials)',
        {
          cause: e,
        },
      );
    }
    if (findCause(e, TimeoutError)) throw new RequestTimeoutError(subject, timeoutMs, { cause: e });
    throw e;
  }
}
