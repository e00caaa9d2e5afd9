import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { type FetcherProcess, refreshBody, startFetcher } from '@ratebus/fixtures';
import { REGIONS, refreshSubject } from '@ratebus/schema';
import { check, freePort } from '@ratebus/testkit';

/** Lease timings of one fetcher fleet, ms. */
export interface LeaseTimings {
  readonly durationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
}

/** One fetcher process, identified by FETCHER_ID (the simulator's caller). */
export type FetcherProc = FetcherProcess;

/** Fetcher processes sharing one config file (lease timings, no configured tariffs) in a temp dir. */
export class FetcherFleet {
  readonly #dir: string;
  readonly #config: string;
  readonly #procs = new Set<FetcherProc>();
  #n = 0;

  constructor(
    readonly label: string,
    readonly natsUrl: string,
    readonly upstream: string,
    timings: LeaseTimings,
  ) {
    this.#dir = mkdtempSync(join(tmpdir(), 'ratebus-bench-failover-'));
    this.#config = join(this.#dir, 'ratebus.yaml');
    writeFileSync(
      this.#config,
      `lease:\n  durationMs: ${timings.durationMs}\n  renewDeadlineMs: ${timings.renewDeadlineMs}\n  retryPeriodMs: ${timings.retryPeriodMs}\n`,
    );
  }

  get running(): FetcherProc[] {
    return [...this.#procs].filter((f) => f.proc.running);
  }

  /** Starts one more fetcher and waits until it is a candidate or the leader (`/readyz`). */
  async add(): Promise<FetcherProc> {
    const id = `${this.label}-${++this.#n}`;
    const f = await startFetcher({
      id,
      natsUrl: this.natsUrl,
      config: this.#config,
      upstream: this.upstream,
      metricsPort: await freePort(),
      logLevel: 'info',
    });
    this.#procs.add(f);
    await f.waitHttpOk(`http://127.0.0.1:${f.metricsPort}/readyz`);
    return f;
  }

  /** The one leader among the running fetchers. */
  leader(timeout: number): Promise<FetcherProc> {
    return check(
      () => {
        const ls = this.running.filter((f) => f.leadingTerm() !== null);
        return ls.length === 1 ? ls[0] : undefined;
      },
      { name: `one leader among ${this.label}`, timeout, interval: 50 },
    );
  }

  forget(f: FetcherProc): void {
    this.#procs.delete(f);
  }

  /** Stops every process (SIGTERM, then SIGKILL) and removes the temp dir. Idempotent. */
  async stop(): Promise<void> {
    await Promise.all([...this.#procs].map((f) => f.proc.stop(3_000)));
    this.#procs.clear();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

/** Half-hourly single-register products of the simulator: refreshing one that no fetcher holds goes upstream. */
const PRODUCTS = [
  'AGILE-24-10-01',
  'GO-VAR-22-10-14',
  'INTELLI-VAR-24-10-29',
  'COSY-22-12-08',
  'FLUX-IMPORT-23-02-14',
  'FLUX-EXPORT-23-02-14',
  'AGILE-OUTGOING-19-05-13',
];
export const SIM_TARIFFS = PRODUCTS.flatMap((product) =>
  REGIONS.map((r) => ({ product, tariff: `E-1R-${product}-${r}` })),
);

/**
 * Fires a refresh request for a tariff every `intervalMs` without waiting for answers (a request can land on
 * a leader that is shutting down and never be answered) until `done()` says so or the deadline passes.
 */
export async function probeUntil(
  nc: NatsConnection,
  t: { product: string; tariff: string },
  done: () => boolean,
  opts: { timeoutMs: number; intervalMs: number },
): Promise<void> {
  const body = refreshBody(t, 'bench');
  const pending = new Set<Promise<unknown>>();
  const deadline = performance.now() + opts.timeoutMs;
  try {
    while (!done()) {
      if (performance.now() > deadline)
        throw new Error(`no new leader fetched ${t.tariff} within ${opts.timeoutMs} ms`);
      const p = nc
        .request(refreshSubject(t.product, t.tariff), body, { timeout: 2_000 })
        .catch(() => undefined)
        .finally(() => pending.delete(p));
      pending.add(p);
      await new Promise((r) => setTimeout(r, opts.intervalMs));
    }
  } finally {
    await Promise.allSettled([...pending]);
  }
}
