import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { Child } from './child.js';
import type { Login, NatsChoice } from './nats.js';
import { serviceMain } from './paths.js';

/** Tariffs the fetchers always keep (pods may ask for more). */
export const CONFIGURED_TARIFFS = [
  { product: 'AGILE-24-10-01', tariff: 'E-1R-AGILE-24-10-01-C' },
  { product: 'AGILE-OUTGOING-19-05-13', tariff: 'E-1R-AGILE-OUTGOING-19-05-13-C' },
  { product: 'GO-VAR-22-10-14', tariff: 'E-1R-GO-VAR-22-10-14-C' },
  { product: 'VAR-22-11-01', tariff: 'E-2R-VAR-22-11-01-A' },
];

/** The gateway's usual port, used when free (else an ephemeral one). */
const GATEWAY_PORT = 8092;
/** How long a service may take to log that it listens. */
const LISTEN_TIMEOUT_MS = 15_000;
/** The pino line of a service that listens, with its URL. */
const LISTENING_LINE = /"url":"(http:\/\/[^"]+)".*"msg":"(?:octopus simulator|gateway) listening"/;

export interface FetcherSlot {
  readonly id: string;
  proc: Child | null;
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
  sim: Child | null = null;
  gateway: Child | null = null;
  simUrl = '';
  gatewayUrl = '';
  readonly #dir: string;
  readonly #nats: NatsChoice;
  #configPath = '';

  constructor(dir: string, nats: NatsChoice) {
    this.#dir = dir;
    this.#nats = nats;
  }

  /** The simulator on an ephemeral port, its clock at `start` running `speed` times faster. */
  async startSimulator(start: Date, speed: number): Promise<void> {
    this.sim = await node('octopus-sim', 'octopus-sim', {
      PORT: '0',
      SIM_START: start.toISOString(),
      SIM_SPEED: String(speed),
      // info: the line that says where it listens (the simulator logs requests at debug only).
      LOG_LEVEL: 'info',
    });
    this.simUrl = (await this.sim.firstLine(LISTENING_LINE, LISTEN_TIMEOUT_MS))[1] as string;
  }

  async startFetchers(): Promise<void> {
    this.#configPath = join(this.#dir, 'ratebus.yaml');
    writeFileSync(this.#configPath, stringify({ tariffs: CONFIGURED_TARIFFS }));
    await Promise.all(this.fetchers.map((f) => this.startFetcher(f)));
  }

  async startFetcher(slot: FetcherSlot): Promise<void> {
    slot.stopping = false;
    slot.proc = await node(slot.id, 'fetcher', {
      ...loginEnv(this.#nats.logins.fetcher),
      NATS_URL: this.#nats.servers.join(','),
      OCTOPUS_BASE_URL: this.simUrl,
      OCTOPUS_SIM_CLOCK: '1',
      RATEBUS_CONFIG: this.#configPath,
      FETCHER_ID: slot.id,
      METRICS_PORT: '0',
      LOG_LEVEL: 'info',
    });
  }

  async startGateway(mirrorDir: string): Promise<void> {
    this.gateway = await node('gateway', 'gateway', {
      ...loginEnv(this.#nats.logins.gateway),
      NATS_URL: this.#nats.servers.join(','),
      PORT: String((await isFree(GATEWAY_PORT)) ? GATEWAY_PORT : 0),
      MIRROR_DIR: mirrorDir,
      UPSTREAM_ORIGIN: this.simUrl,
      OCTOPUS_SIM_CLOCK: '1',
      LOG_LEVEL: 'info',
    });
    this.gatewayUrl = (await this.gateway.firstLine(LISTENING_LINE, LISTEN_TIMEOUT_MS))[1] as string;
  }

  /** SIGKILL every process still running: the last resort when the demo exits. */
  kill(): void {
    for (const p of [this.gateway, ...this.fetchers.map((f) => f.proc), this.sim]) p?.kill();
  }

  /** SIGTERM everything (fetchers release the lease), SIGKILL what does not stop in time. */
  async stop(): Promise<void> {
    for (const f of this.fetchers) f.stopping = true;
    await Promise.all([this.gateway?.stop(), ...this.fetchers.map((f) => f.proc?.stop())]);
    await this.sim?.stop();
  }
}

/** Starts a built ratebus service with the demo's environment on top of this process's. */
function node(name: string, service: 'octopus-sim' | 'fetcher' | 'gateway', env: Record<string, string>) {
  return Child.spawn(name, process.execPath, [serviceMain(service)], { env: { ...process.env, ...env } });
}

async function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}
