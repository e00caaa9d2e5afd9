import type { Msg } from '@nats-io/transport-node';
import { decodeRefreshReply, isNoResponders, isRequestTimeout, refreshRequest } from '@ratebus/bus';
import { type RatesDocument, refreshSubject, type TariffRef } from '@ratebus/schema';
import { isPermissionDenied, openConnection } from '../bus.js';
import { NoFetcherError, PermissionError, RefreshError, RequestTimeoutError } from '../errors.js';
import { fields, summarize, summaryPairs } from '../format.js';
import type { CommandContext } from './context.js';

/** Maps a reply to a document, or throws the typed error its headers carry. */
export function readReply(ref: TariffRef, reply: Pick<Msg, 'headers' | 'data'>): RatesDocument {
  const r = decodeRefreshReply(ref, reply);
  if (r.ok) return r.document;
  throw new RefreshError(r.code, r.message || '(no message)', r.cause ? { cause: r.cause } : undefined);
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
    if (isNoResponders(e)) {
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
    if (isRequestTimeout(e)) throw new RequestTimeoutError(subject, timeoutMs, { cause: e });
    throw e;
  }
}
