import type { Msg, NatsConnection } from '@nats-io/transport-node';
import type { Responder } from '@ratebus/bus';
import { RequestBudget } from '@ratebus/octopus';
import {
  decode,
  parseTariffSubject,
  RefreshRequestSchema,
  rateKey,
  SUBJECTS,
  type TariffRef,
} from '@ratebus/schema';
import type { Logger } from 'pino';
import type { Publisher } from './publisher.js';
import { leaderResponder, replyCodeOf, replyError, replyInternal } from './reply.js';
import type { Scheduler } from './scheduler.js';
import type { Tracking } from './tracking.js';
import type { Clock, TermMetrics } from './types.js';

export interface RefreshResponderOptions {
  nc: NatsConnection;
  /** The term answered for: names the responders' queue group. */
  term: number;
  publisher: Publisher;
  scheduler: Scheduler;
  tracking: Tracking;
  clock: Clock;
  logger: Logger;
  metrics: TermMetrics;
  /** A `force` refresh within this long of the last check is answered from the held document, clock ms. */
  minForceIntervalMs: number;
  /** Shortest spacing of refresh-driven upstream fetches of one tariff, clock ms. */
  tariffIntervalMs: number;
  /** Refresh-driven upstream fetches per minute, all tariffs together. */
  upstreamPerMinute: number;
}

/**
 * Answers `ratebus.refresh.{product}.{tariff}`: the held document, or one fetched on demand (coalesced per
 * tariff). A tariff asked for becomes tracked (within the tracked-tariff cap); a remembered NOT_FOUND is
 * answered without asking upstream. Requests reach upstream at most once per `tariffIntervalMs` per tariff
 * and `upstreamPerMinute` in all; beyond that a held document answers, else THROTTLED — each counted.
 */
export class RefreshResponder {
  readonly #options: RefreshResponderOptions;
  readonly #responder: Responder;
  /** Refresh-driven upstream fetches, all tariffs: a budget nobody waits for. */
  readonly #overall: RequestBudget;
  /** When each tariff was last fetched for a refresh, clock ms (pruned as entries age out). */
  readonly #lastFetchAt = new Map<string, number>();

  constructor(opts: RefreshResponderOptions) {
    this.#options = opts;
    this.#overall = new RequestBudget(opts.upstreamPerMinute);
    this.#responder = leaderResponder(
      opts.nc,
      SUBJECTS.allRefresh,
      opts.term,
      (msg) => this.#handle(msg),
      (err) => opts.logger.warn({ err }, 'refresh subscription error'),
    );
  }

  /** Which limit, if any, forbids a refresh-driven upstream fetch of `ref` now; takes a token when none does. */
  #limit(ref: TariffRef): 'refresh-tariff-rate' | 'refresh-rate' | null {
    const now = this.#options.clock.now();
    const key = rateKey(ref.product, ref.tariff);
    const last = this.#lastFetchAt.get(key);
    if (last !== undefined && now - last >= 0 && now - last < this.#options.tariffIntervalMs) {
      return 'refresh-tariff-rate';
    }
    if (!this.#overall.tryAcquire('high')) return 'refresh-rate';
    if (this.#lastFetchAt.size > 1_000) {
      for (const [k, t] of this.#lastFetchAt)
        if (now - t >= this.#options.tariffIntervalMs) this.#lastFetchAt.delete(k);
    }
    this.#lastFetchAt.set(key, now);
    return null;
  }

  /** Subscribes (the term's queue group). */
  start(): void {
    this.#responder.start();
  }

  /** Unsubscribes, then waits for requests being answered. */
  stop(): Promise<void> {
    return this.#responder.stop();
  }

  async #handle(msg: Msg): Promise<void> {
    const { publisher, scheduler, tracking, metrics, logger, clock } = this.#options;
    try {
      let ref: TariffRef;
      try {
        ref = parseTariffSubject(msg.subject);
      } catch {
        metrics.refreshRequest?.('bad-request');
        replyError(msg, 'BAD_REQUEST', 'subject is not ratebus.refresh.{product}.{tariff} with valid codes');
        return;
      }
      const body = decode(RefreshRequestSchema, 'RefreshRequest', msg.data);
      if (!body.ok || body.value.product !== ref.product || body.value.tariff !== ref.tariff) {
        metrics.refreshRequest?.('bad-request');
        replyError(msg, 'BAD_REQUEST', body.ok ? 'body does not match the subject' : body.error.message);
        return;
      }
      if (publisher.isNotFound(ref)) {
        metrics.refreshRequest?.('not-found');
        replyError(msg, 'NOT_FOUND', `${ref.tariff} of ${ref.product} does not exist upstream`);
        return;
      }
      if (!tracking.request(ref)) {
        metrics.refreshRequest?.('refused');
        replyError(
          msg,
          'TOO_MANY_TARIFFS',
          `the leader tracks as many tariffs as it may; ${ref.tariff} is not taken on now`,
        );
        return;
      }
      const held = publisher.held(ref);
      const checkedAt = publisher.lastCheckedAt(ref);
      const since = checkedAt === undefined ? Number.POSITIVE_INFINITY : clock.now() - checkedAt;
      const recent = since >= 0 && since < this.#options.minForceIntervalMs;
      if (held && (!body.value.force || recent)) {
        metrics.refreshRequest?.('hit');
        msg.respond(held.bytes);
        return;
      }
      // A fetch in flight is joined: it costs nothing more upstream.
      const limited = publisher.busy(ref) ? null : this.#limit(ref);
      if (limited !== null) {
        metrics.refused?.(limited);
        if (held) {
          metrics.refreshRequest?.('hit');
          msg.respond(held.bytes);
          return;
        }
        metrics.refreshRequest?.('refused');
        replyError(
          msg,
          'THROTTLED',
          limited === 'refresh-rate'
            ? 'too many refresh requests reach upstream; try again in a minute'
            : `${ref.tariff} was fetched for a refresh moments ago; try again later`,
        );
        return;
      }
      const outcome = await scheduler.fetch(ref, 'refresh');
      if (outcome.kind === 'changed' || outcome.kind === 'unchanged') {
        metrics.refreshRequest?.('fetched');
        msg.respond(outcome.held.bytes);
        return;
      }
      if (outcome.kind === 'failed' && replyCodeOf(outcome.error) === 'NOT_FOUND') {
        metrics.refreshRequest?.('not-found');
        replyError(msg, 'NOT_FOUND', `${ref.tariff} of ${ref.product} does not exist upstream`);
        return;
      }
      if (outcome.kind === 'failed' && replyCodeOf(outcome.error) === 'NOT_LEADER') {
        metrics.refreshRequest?.('error');
        replyError(msg, 'NOT_LEADER', 'this fetcher is no longer the leader');
        return;
      }
      // Stale-if-error: the last good document beats an error.
      if (outcome.held) {
        metrics.refreshRequest?.('hit');
        msg.respond(outcome.held.bytes);
        return;
      }
      metrics.refreshRequest?.('error');
      if (outcome.kind === 'rejected') {
        replyError(msg, 'UPSTREAM_UNAVAILABLE', `upstream answer rejected: ${outcome.rejection.reason}`);
      } else if (outcome.kind === 'failed') {
        replyError(
          msg,
          replyCodeOf(outcome.error),
          (outcome.error as Error | undefined)?.message ?? 'fetch failed',
        );
      }
    } catch (err) {
      logger.error({ err, subject: msg.subject.slice(0, 200) }, 'refresh request failed');
      metrics.refreshRequest?.('error');
      replyInternal(msg);
    }
  }
}
