import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
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
import { replyCodeOf, replyError } from './reply.js';
import type { Scheduler } from './scheduler.js';
import type { Tracking } from './tracking.js';
import type { Clock, WorkerMetrics } from './types.js';

/** Queue group of the refresh and URL responders: only the leader subscribes, one answer per request. */
export const RESPONDER_QUEUE = 'ratebus-fetchers';

export interface RefreshResponderOptions {
  nc: NatsConnection;
  publisher: Publisher;
  scheduler: Scheduler;
  tracking: Tracking;
  clock: Clock;
  logger: Logger;
  metrics: WorkerMetrics;
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
  readonly #o: RefreshResponderOptions;
  readonly #handling = new Set<Promise<void>>();
  /** Refresh-driven upstream fetches, all tariffs: a budget nobody waits for. */
  readonly #overall: RequestBudget;
  /** When each tariff was last fetched for a refresh, clock ms (pruned as entries age out). */
  readonly #lastFetchAt = new Map<string, number>();
  #sub: Subscription | null = null;

  constructor(opts: RefreshResponderOptions) {
    this.#o = opts;
    this.#overall = new RequestBudget(opts.upstreamPerMinute);
  }

  /** Which limit, if any, forbids a refresh-driven upstream fetch of `ref` now; takes a token when none does. */
  #limit(ref: TariffRef): 'refresh-tariff-rate' | 'refresh-rate' | null {
    const now = this.#o.clock.now();
    const key = rateKey(ref.product, ref.tariff);
    const last = this.#lastFetchAt.get(key);
    if (last !== undefined && now - last >= 0 && now - last < this.#o.tariffIntervalMs) {
      return 'refresh-tariff-rate';
    }
    if (!this.#overall.tryAcquire('high')) return 'refresh-rate';
    if (this.#lastFetchAt.size > 1_000) {
      for (const [k, t] of this.#lastFetchAt)
        if (now - t >= this.#o.tariffIntervalMs) this.#lastFetchAt.delete(k);
    }
    this.#lastFetchAt.set(key, now);
    return null;
  }

  /** Subscribes (queue group) for the term. */
  start(): void {
    this.#sub = this.#o.nc.subscribe(SUBJECTS.allRefresh, {
      queue: RESPONDER_QUEUE,
      callback: (err, msg) => {
        if (err) {
          this.#o.logger.warn({ err }, 'refresh subscription error');
          return;
        }
        const p = this.#handle(msg).finally(() => this.#handling.delete(p));
        this.#handling.add(p);
      },
    });
  }

  /** Unsubscribes, then waits for requests being answered. */
  async stop(): Promise<void> {
    this.#sub?.unsubscribe();
    this.#sub = null;
    await Promise.allSettled([...this.#handling]);
  }

  async #handle(msg: Msg): Promise<void> {
    const { publisher, scheduler, tracking, metrics, logger, clock } = this.#o;
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
      const recent = since >= 0 && since < this.#o.minForceIntervalMs;
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
      const o = await scheduler.fetch(ref, 'refresh');
      if (o.kind === 'changed' || o.kind === 'unchanged') {
        metrics.refreshRequest?.('fetched');
        msg.respond(o.held.bytes);
        return;
      }
      if (o.kind === 'failed' && replyCodeOf(o.error) === 'NOT_FOUND') {
        metrics.refreshRequest?.('not-found');
        replyError(msg, 'NOT_FOUND', `${ref.tariff} of ${ref.product} does not exist upstream`);
        return;
      }
      if (o.kind === 'failed' && replyCodeOf(o.error) === 'NOT_LEADER') {
        metrics.refreshRequest?.('error');
        replyError(msg, 'NOT_LEADER', 'this fetcher is no longer the leader');
        return;
      }
      // Stale-if-error: the last good document beats an error.
      if (o.held) {
        metrics.refreshRequest?.('hit');
        msg.respond(o.held.bytes);
        return;
      }
      metrics.refreshRequest?.('error');
      if (o.kind === 'rejected') {
        replyError(msg, 'UPSTREAM_UNAVAILABLE', `upstream answer rejected: ${o.rejection.reason}`);
      } else if (o.kind === 'failed') {
        replyError(msg, replyCodeOf(o.error), (o.error as Error | undefined)?.message ?? 'fetch failed');
      }
    } catch (err) {
      logger.error({ err, subject: msg.subject.slice(0, 200) }, 'refresh request failed');
      metrics.refreshRequest?.('error');
      try {
        replyError(msg, 'INTERNAL', 'internal error');
      } catch {
        // the connection is gone: nothing to answer on
      }
    }
  }
}
