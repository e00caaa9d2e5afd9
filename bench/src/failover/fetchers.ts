import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NatsConnection } from '@nats-io/transport-node';
import { ERROR_CODE_HEADER, REGIONS, refreshSubject, SCHEMA_VERSION } from '@ratebus/schema';
import { check, freePort, logEvents, ManagedProcess } from '@ratebus/testkit';

const MAIN = fileURLToPath(new URL('../../../../services/fetcher/dist/src/main.js', import.meta.url));

/** Lease timings of one fetcher fleet, ms. */
export interface LeaseTimings {
  readonly durationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
}

/** One `node services/fetcher/dist/src/main.js` process, identified by FETCHER_ID (the simulator's caller). */
export class FetcherProc {
  constructor(
    readonly id: string,
    readonly proc: ManagedProcess,
    readonly metricsPort: number,
  ) {}

  /** Wall-clock ms of every election (`event: 'elected'` log line), by term. */
  elections(): Map<number, number> {
    const out = new Map<number, number>();
    for (const l of logEvents(this.proc.output(), 'elected')) out.set(Number(l.term), l.time ?? Number.NaN);
    return out;
  }

  /** Wall-clock ms of the release of `term`'s lease (`event: 'lease-released'`), or null. */
  releasedAt(term: number): number | null {
    return logEvents(this.proc.output(), 'lease-released').find((l) => l.term === term)?.time ?? null;
  }

  /** The term this process leads now, or null. */
  leadingTerm(): number | null {
    if (!this.proc.running) return null;
    const last = [...this.elections().keys()].at(-1);
    const down = logEvents(this.proc.output(), 'stepped-down').some((l) => l.term === last);
    return last !== undefined && !down ? last : null;
  }

  isCaller(caller: string): boolean {
    return caller.endsWith(`fetcher/${this.id}`);
  }

  async ready(): Promise<boolean> {
    const res = await fetch(`http://127.0.0.1:${this.metricsPort}/readyz`);
    await res.arrayBuffer();
    return res.ok;
  }
}

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
    const port = await freePort();
    const proc = await ManagedProcess.start({
      name: `fetcher ${id}`,
      command: process.execPath,
      args: [MAIN],
      env: {
        ...process.env,
        NATS_URL: this.natsUrl,
        RATEBUS_CONFIG: this.#config,
        OCTOPUS_BASE_URL: this.upstream,
        METRICS_PORT: String(port),
        FETCHER_ID: id,
        LOG_LEVEL: 'info',
      },
    });
    const f = new FetcherProc(id, proc, port);
    this.#procs.add(f);
    await check(
      () => {
        if (!proc.running) throw new Error(`${proc.name} exited: ${proc.output().slice(-2_000)}`);
        return f.ready();
      },
      { name: `${proc.name} ready`, timeout: 30_000, interval: 100 },
    );
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
  const body = JSON.stringify({ type: 'refresh-request', schemaVersion: SCHEMA_VERSION, ...t, by: 'bench' });
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

/**
 * Sends refresh requests for a tariff until one is answered with a document (no responders while nobody
 * leads: retried every `intervalMs`). Returns the document's term.
 */
export async function refreshUntilAnswered(
  nc: NatsConnection,
  t: { product: string; tariff: string },
  opts: { timeoutMs: number; intervalMs: number; minTerm?: number },
): Promise<number> {
  const body = JSON.stringify({ type: 'refresh-request', schemaVersion: SCHEMA_VERSION, ...t, by: 'bench' });
  return check(
    async () => {
      const msg = await nc.request(refreshSubject(t.product, t.tariff), body, { timeout: 5_000 });
      const code = msg.headers?.get(ERROR_CODE_HEADER);
      if (code) throw new Error(`refresh answered ${code}`);
      const term = (msg.json() as { term: number }).term;
      return term >= (opts.minTerm ?? 0) ? term : undefined;
    },
    { name: `refresh of ${t.tariff}`, timeout: opts.timeoutMs, interval: opts.intervalMs },
  );
}
