import { fileURLToPath } from 'node:url';
import { check, ManagedProcess } from '@ratebus/testkit';
import { PASSWORDS } from '../integration/nats-security/roles.js';
import type { PublishedDoc, TermWindow } from './invariants.js';

const MAIN = fileURLToPath(new URL('../../../services/fetcher/dist/src/main.js', import.meta.url));

interface LogLine {
  time?: number;
  msg?: string;
  /** Structured event of the line (the elector's `elected`, `stepped-down`, `lease-released`). */
  event?: string;
  term?: number;
  key?: string;
  revision?: number;
  hash?: string;
}

/**
 * One fetcher process. Its pino lines are parsed as they arrive (not from the bounded output buffer), so a
 * long run keeps every election, step-down and publish with the process's own timestamps.
 */
export class FetcherProc {
  readonly elected: { term: number; at: number }[] = [];
  readonly steppedDown: { term: number; at: number }[] = [];
  readonly published: PublishedDoc[] = [];
  /** Real epoch ms of each SIGSTOP. */
  readonly pausedAt: number[] = [];
  killedAt: number | null = null;
  paused = false;
  #partial = '';

  constructor(
    readonly id: string,
    readonly proc: ManagedProcess,
  ) {
    proc.child.stdout?.on('data', (chunk: Buffer) => this.#parse(chunk.toString('utf8')));
  }

  #parse(text: string): void {
    const lines = (this.#partial + text).split('\n');
    this.#partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      let l: LogLine;
      try {
        l = JSON.parse(line) as LogLine;
      } catch {
        continue;
      }
      const at = l.time ?? Date.now();
      if (l.event === 'elected' && typeof l.term === 'number') this.elected.push({ term: l.term, at });
      else if (l.event === 'stepped-down' && typeof l.term === 'number')
        this.steppedDown.push({ term: l.term, at });
      else if (
        l.event === 'published' &&
        typeof l.key === 'string' &&
        typeof l.revision === 'number' &&
        typeof l.term === 'number' &&
        typeof l.hash === 'string'
      ) {
        this.published.push({
          fetcher: this.id,
          key: l.key,
          revision: l.revision,
          term: l.term,
          hash: l.hash,
          at,
        });
      }
    }
  }

  /** The term this process leads now by its own log, or null (also while paused or dead). */
  leadingTerm(): number | null {
    if (this.paused || this.killedAt !== null || !this.proc.running) return null;
    const last = this.elected.at(-1);
    return last && !this.steppedDown.some((d) => d.term === last.term) ? last.term : null;
  }

  /** Does a simulator caller (User-Agent `… fetcher/{id}`) belong to this process? */
  isCaller(caller: string): boolean {
    return caller.endsWith(`fetcher/${this.id}`);
  }

  /** This process's leadership windows, each ended by its first end event (see TermWindow). */
  windows(): TermWindow[] {
    return this.elected.map(({ term, at }) => {
      const ends: { at: number; why: TermWindow['endWhy'] }[] = [];
      const down = this.steppedDown.find((d) => d.term === term);
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
    const proc = await ManagedProcess.start({
      name: `fetcher ${id}`,
      command: process.execPath,
      args: [MAIN],
      maxOutput: 256 * 1024,
      env: {
        ...process.env,
        NATS_URL: this.opts.natsUrls.join(','),
        NATS_USER: 'fetcher',
        NATS_PASSWORD: PASSWORDS.fetcher,
        RATEBUS_CONFIG: this.opts.configPath,
        RATEBUS_REPLICAS: '3',
        OCTOPUS_BASE_URL: this.opts.simUrl,
        OCTOPUS_SIM_CLOCK: '1',
        METRICS_PORT: '0',
        FETCHER_ID: id,
        LOG_LEVEL: this.opts.logLevel ?? 'info',
        NATS_PING_INTERVAL_MS: '1000',
      },
    });
    const f = new FetcherProc(id, proc);
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
