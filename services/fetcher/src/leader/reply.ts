import { headers, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { Responder } from '@ratebus/bus';
import { ERROR_CODE_HEADER, ERROR_HEADER, type ReplyErrorCode, responderQueue } from '@ratebus/schema';
import { errorCode } from './publisher.js';

const EMPTY = new Uint8Array(0);

/** A responder in `term`'s queue group on `subject`; subscription errors go to `onError`. */
export function leaderResponder(
  nc: NatsConnection,
  subject: string,
  term: number,
  handle: (msg: Msg) => Promise<void>,
  onError: (err: unknown) => void,
): Responder {
  return new Responder({ nc, subject, queue: responderQueue(term), handle, onError });
}

/** Answers a request with a typed error: empty body, `Ratebus-Error-Code` and `Ratebus-Error` headers. */
export function replyError(msg: Msg, code: ReplyErrorCode, message: string): void {
  if (!msg.reply) return;
  const h = headers();
  h.set(ERROR_CODE_HEADER, code);
  // Header values must be one printable line.
  h.set(ERROR_HEADER, message.replace(/[^\x20-\x7e]/g, ' ').slice(0, 300));
  msg.respond(EMPTY, { headers: h });
}

/** Answers INTERNAL after an unexpected failure, unless the connection is gone. */
export function replyInternal(msg: Msg): void {
  try {
    replyError(msg, 'INTERNAL', 'internal error');
  } catch {
    // the connection is gone: nothing to answer on
  }
}

/** Maps an upstream or fencing error to the reply error code a requester sees. */
export function replyCodeOf(e: unknown): ReplyErrorCode {
  switch (errorCode(e)) {
    case 'ERR_UPSTREAM_NOT_FOUND':
      return 'NOT_FOUND';
    case 'ERR_UPSTREAM_THROTTLED':
      return 'THROTTLED';
    case 'ERR_NOT_LEADER':
    case 'ERR_STALE_TERM':
    case 'ERR_ABORTED':
      return 'NOT_LEADER';
    case 'ERR_UPSTREAM_TIMEOUT':
    case 'ERR_UPSTREAM_HTTP':
    case 'ERR_UPSTREAM_INVALID':
    case 'ERR_UPSTREAM_NETWORK':
      return 'UPSTREAM_UNAVAILABLE';
    default:
      return 'INTERNAL';
  }
}
