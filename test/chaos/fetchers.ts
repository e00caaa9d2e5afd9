import { type FetcherProcess, startFetcher } from '@ratebus/fixtures';
import { check } from '@ratebus/testkit';
import { PASSWORDS } from '../integration/nats-security/roles.js';
import type { PublishedDoc, TermWindow } from './invariants.js';

/**
 * One fetcher process of a run. Its structured events (elections, step-downs, publishes) are kept as they
 * arrive with the process's own timestamps; pauses and the kill are recorded here.
 */
export class FetcherProc {
  /** Real epoch ms of each SIGSTOP. */
  readonly pausedAt: number[] = [];
  killedAt: number | null = null;
  paused = false;

  constructor(readonly proc: FetcherProcess) {}

  get id(): string {
    return this.proc.id;
  }

  get elected(): { term: number; at: number }[] {
    return this.proc.terms('elected');
  }

  /** The documents this process logged as published (`event: 'published'`). */
  get published(): PublishedDoc[] {
    return this.proc.events('published').flatMap((l) =>
      typeof l.key === 'string' &&
      typeof l.revision === 'number' &&
      typeof l.term === 'number' &&
      typeof l.hash === 'string'
        ? [
            {
              fetcher: this.id,
              key: l.key,
              revision: l.revision,
              term: l.term,
              hash: l.hash,
              at: l.time ?? Date.now(),
            },
          ]
        : [],
    );
  }

  /** The term this process leads now by its own log, or null (also while paused or dead). */
  leadingTerm(): number | null {
    return this.paused || this.killedAt !== null ? null : this.proc.leadingTerm();
  }

  /** Does a simulator caller (User-Agent `… fetcher/{id}`) belong to this process? */
  isCaller(caller: string): boolean {
    return this.proc.isCaller(caller);
  }

  /** This process's leadership windows, each ended by its first end event (see TermWindow). */
  windows(): TermWindow[] {
    return this.elected.map(({ term, at }) => {
      const ends: { at: number; why: TermWindow['endWhy'] }[] = [];
      const down = this.proc.terms('stepped-down').find((d) => d.term === term);
      if (down) ends.push({ at: down.at, why: 'stepped-down' });
      const pause = this.pausedAt.find((p) => p >= at);
      if (pause !== undefined) ends.push({ at: pause, why: 'paused' });
      if (this.killedAt !== null && this.killedAt >= at) ends.push({ at: this.killedAt, why: 'killed' });
      ends.sort((a, b) => a.at - b.at);
      const end = ends[0];
      return { fetcher: this.id, term, electedAt: at, endAt: end?.at ?? null, endWhy: end?.why ?? 'open' };
    });
  }

  async kill(): Promise<void> {
    this.killedAt = Date.now();
    await this.proc.kill('SIGKILL');
  }

  pause(): void {
    this.pausedAt.push(Date.now());
    this.paused = true;
    this.proc.pause();
  }

  resume(): void {
    this.proc.resume();
    this.paused = false;
  }
}

export interface FleetOptions {
  natsUrls: readonly string[];
  configPath: string;
  simUrl: string;
  logLevel?: string;
}

/** The fetcher processes of one run, including the replacements started after each SIGKILL. */
export class FetcherFleet {
  readonly all: FetcherProc[] = [];
  #next = 1;

  constructor(private readonly opts: FleetOptions) {}

  async start(): Promise<FetcherProc> {
    const id = `chaos-f${this.#next++}`;
    const proc = await startFetcher({
      id,
      natsUrl: this.opts.natsUrls,
      credentials: { user: 'fetcher', pass: PASSWORDS.fetcher },
      config: this.opts.configPath,
      upstream: this.opts.simUrl,
      simClock: true,
      logLevel: this.opts.logLevel ?? 'info',
      maxOutput: 256 * 1024,
      env: { RATEBUS_REPLICAS: '3', NATS_PING_INTERVAL_MS: '1000' },
    });
    const f = new FetcherProc(proc);
    this.all.push(f);
    return f;
  }

  get running(): FetcherProc[] {
    return this.all.filter((f) => f.proc.running && f.killedAt === null);
  }

  /** The fetcher id a simulator caller string belongs to, or null. */
  fetcherOf(caller: string): string | null {
    return this.all.find((f) => f.isCaller(caller))?.id ?? null;
  }

  /** Waits until exactly one live, unpaused process says it leads. */
  async waitLeader(timeout: number): Promise<FetcherProc> {
    return check(
      () => {
        const ls = this.all.filter((f) => f.leadingTerm() !== null);
        return ls.length === 1 ? ls[0] : undefined;
      },
      { timeout, interval: 100, name: 'one fetcher leading' },
    );
  }

  windows(): TermWindow[] {
    return this.all.flatMap((f) => f.windows());
  }

  published(): PublishedDoc[] {
    return this.all.flatMap((f) => f.published);
  }

  /** The last lines of every process, for a failure message. */
  tails(chars = 1_500): string {
    return this.all.map((f) => `--- ${f.id} ---\n${f.proc.output().slice(-chars)}`).join('\n');
  }

  async stop(): Promise<void> {
    await Promise.all(this.all.map((f) => f.proc.stop(5_000)));
  }
}
