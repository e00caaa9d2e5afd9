import { randomUUID } from 'node:crypto';
import { OctopusClient, type OctopusClientOptions } from '@ratebus/octopus';
import { type SimOptions, type Simulator, startSimulator } from '@ratebus/octopus-sim';

/** Fast but realistic retry settings for tests: 4 attempts, 10 ms → 1.5 s backoff, 2 s timeouts. */
export const FAST = { maxAttempts: 4, backoff: { baseMs: 10, maxMs: 1_500 }, timeoutMs: 2_000 } as const;

/** A client against the simulator whose requests carry a unique `X-Sim-Caller`, to find them in the log. */
export function simClient(sim: Simulator, opts: OctopusClientOptions = {}) {
  const caller = `octopus-test-${randomUUID().slice(0, 8)}`;
  const client = new OctopusClient({
    baseUrl: sim.url,
    requestsPerMinute: 6_000,
    ...FAST,
    ...opts,
    headers: { 'X-Sim-Caller': caller, ...opts.headers },
  });
  return { client, caller };
}

export type LogEntry = ReturnType<Simulator['stats']['snapshot']>['log'][number];

/** The simulator's log lines of one caller, oldest first. */
export function requestsOf(sim: Simulator, caller: string): LogEntry[] {
  return sim.stats
    .snapshot()
    .log.filter((e) => e.caller === caller)
    .sort((a, b) => a.seq - b.seq);
}

/** POST/DELETE to the simulator's admin API (for settings without an in-process handle). */
export async function admin(sim: Simulator, method: 'POST' | 'DELETE', path: string, body?: unknown) {
  const res = await fetch(`${sim.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!res.ok) throw new Error(`sim admin ${method} ${path} → ${res.status}: ${await res.text()}`);
  const text = await res.text();
  return text ? (JSON.parse(text) as unknown) : null;
}

/** Starts a simulator before the enclosing suite's tests and closes it after them; faults are cleared after each test. */
export function suiteSimulator(opts: SimOptions): { readonly sim: Simulator } {
  const world = {} as { sim: Simulator };
  before(async () => {
    world.sim = await startSimulator(opts);
  });
  afterEach(() => world.sim?.faults.clear());
  after(async () => {
    await world.sim?.close();
  });
  return world;
}
