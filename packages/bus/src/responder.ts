import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';

export interface ResponderOptions {
  readonly nc: NatsConnection;
  readonly subject: string;
  /** Queue group: one member answers each request. */
  readonly queue?: string;
  /** Answers one request. Expected to reply and report on its own, never to reject. */
  readonly handle: (msg: Msg) => Promise<void>;
  /** A subscription error (e.g. a permissions violation); the subscription stays. */
  readonly onError: (err: Error) => void;
}

/**
 * The lifecycle of a request/reply responder, written once: `start()` subscribes (again after a stop),
 * `stop()` unsubscribes so no new request arrives, then waits for the requests being answered.
 */
export class Responder {
  readonly #options: ResponderOptions;
  readonly #handling = new Set<Promise<void>>();
  #sub: Subscription | null = null;

  constructor(opts: ResponderOptions) {
    this.#options = opts;
  }

  /** Subscribes, unless subscribed already. */
  start(): void {
    if (this.#sub) return;
    this.#sub = this.#options.nc.subscribe(this.#options.subject, {
      ...(this.#options.queue !== undefined ? { queue: this.#options.queue } : {}),
      callback: (err, msg) => {
        if (err) {
          this.#options.onError(err);
          return;
        }
        const p = this.#options.handle(msg).finally(() => this.#handling.delete(p));
        this.#handling.add(p);
      },
    });
  }

  /** Unsubscribes, then waits for requests being answered. Idempotent. */
  async stop(): Promise<void> {
    this.#sub?.unsubscribe();
    this.#sub = null;
    await Promise.allSettled([...this.#handling]);
  }
}
