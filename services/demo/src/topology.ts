import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { check, freePort, ManagedProcess } from '@ratebus/testkit';
import { stringify } from 'yaml';
import type { Login, NatsChoice } from './nats.js';
import { serviceMain } from './paths.js';

/** Tariffs the fetchers always keep (pods may ask for more). */
export const CONFIGURED_TARIFFS = [
  { product: 'AGILE-24-10-01', tariff: 'E-1R-AGILE-24-10-01-C' },
  { product: 'AGILE-OUTGOING-19-05-13', tariff: 'E-1R-AGILE-OUTGOING-19-05-13-C' },
  { product: 'GO-VAR-22-10-14', tariff: 'E-1R-GO-VAR-22-10-14-C' },
  { product: 'VAR-22-11-01', tariff: 'E-2R-VAR-22-11-01-A' },
];

export interface FetcherSlot {
  readonly id: string;
  proc: ManagedProcess | null;
  /** Set while the demo itself is stopping it. */
  stopping: boolean;
}

const loginEnv = (l: Login): Record<string, string> =>
  l ? { NATS_USER: l.user, NATS_PASSWORD: l.pass } : {};

/** The processes of the demo: simulator, two fetchers, the gateway. */
export class Topology {
  readonly fetchers: FetcherSlot[] = [
    { id: 'fetcher-1', proc: null, stopping: false },
    { id: 'fetcher-2', proc: null, stopping: false },
  ];
  sim: ManagedProcess | null = null;
  gateway: ManagedProcess | null = null;
  simUrl = '';
  gatewayUrl = '';
  readonly #dir: string;
  readonly #nats: NatsChoice;
  #configPath = '';

  constructor(dir: string, nats: NatsChoice) {
    this.#dir = dir;
    this.#nats = nats;
  }

  async startSimulator(start: Date, speed: number): Promise<void> {
    const port = await freePort();
    this.simUrl = `http://127.0.0.1:${port}`;
    this.sim = await ManagedProcess.start({
      name: 'octopus-sim',
      command: process.execPath,
      args: [serviceMain('octopus-sim')],
      env: {
        ...process.env,
        PORT: String(port),
        SIM_START: start.toISOString(),
        SIM_SPEED: String(speed),
        LOG_LEVEL: 'warn',
      },
    });
    const sim = this.sim;
    await check(
      async () => {
        if (!sim.running) throw new Error(`the simulator exited:\n${sim.output().slice(-2_000)}`);
        return (await fetch(`${this.simUrl}/_sim/clock`)).ok;
      },
      { timeout: 15_000, interval: 100, name: 'the simulator' },
    );
  }

  async startFetchers(): Promise<void> {
    this.#configPath = join(this.#dir, 'ratebus.yaml');
    writeFileSync(this.#configPath, stringify({ tariffs: CONFIGURED_TARIFFS }));
    await Promise.all(this.fetchers.map((f) => this.startFetcher(f)));
  }

  async startFetcher(slot: FetcherSlot): Promise<void> {
    slot.stopping = false;
    slot.proc = await ManagedProcess.start({
      name: slot.id,
      command: process.execPath,
      args: [serviceMain('fetcher')],
      env: {
        ...process.env,
        ...loginEnv(this.#nats.logins.fetcher),
        NATS_URL: this.#nats.servers.join(','),
        OCTOPUS_BASE_URL: this.simUrl,
        OCTOPUS_SIM_CLOCK: '1',
        RATEBUS_CONFIG: this.#configPath,
        FETCHER_ID: slot.id,
        METRICS_PORT: String(await freePort()),
        LOG_LEVEL: 'info',
      },
    });
  }

  async startGateway(mirrorDir: string): Promise<void> {
    const port = (await isFree(8092)) ? 8092 : await freePort();
    this.gatewayUrl = `http://127.0.0.1:${port}`;
    this.gateway = await ManagedProcess.start({
      name: 'gateway',
      command: process.execPath,
      args: [serviceMain('gateway')],
      env: {
        ...process.env,
        ...loginEnv(this.#nats.logins.gateway),
        NATS_URL: this.#nats.servers.join(','),
        PORT: String(port),
        MIRROR_DIR: mirrorDir,
        UPSTREAM_ORIGIN: this.simUrl,
        OCTOPUS_SIM_CLOCK: '1',
        LOG_LEVEL: 'warn',
      },
    });
  }

  /** Every process still running, for the last-resort kill on exit. */
  children(): ManagedProcess[] {
    return [this.gateway, ...this.fetchers.map((f) => f.proc), this.sim].filter(
      (p): p is ManagedProcess => p?.running === true,
    );
  }

  /** SIGTERM everything (fetchers release the lease), SIGKILL what does not stop in time. */
  async stop(): Promise<void> {
    for (const f of this.fetchers) f.stopping = true;
    await Promise.all([this.gateway?.stop(), ...this.fetchers.map((f) => f.proc?.stop())]);
    await this.sim?.stop();
  }
}

async function isFree(port: number): Promise<boolean> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}
