import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import pino, { type Logger } from 'pino';
import { isAdminPath, PublicationSchema, SwitchesSchema, serveAdmin, setPublication } from './admin.js';
import { serveApi } from './api.js';
import type { SimClock } from './clock.js';
import type { SimFaults } from './faults.js';
import { type KrakenSettings, type KrakenSettingsInput, KrakenSettingsSchema } from './kraken.js';
import { resolveOptions, type SimOptions } from './options.js';
import type { PublicationSettings } from './publication.js';
import type { SimSwitches } from './rest.js';
import { createState, type SimState, setSwitches } from './state.js';
import type { SimStats } from './stats.js';

/** A running simulator. */
export interface Simulator extends AsyncDisposable {
  /** Base URL, e.g. `http://127.0.0.1:43121`. */
  readonly url: string;
  readonly clock: SimClock;
  readonly stats: SimStats;
  readonly faults: SimFaults;
  /** Publication switches (`/_sim/publication`). */
  readonly publication: {
    get(): PublicationSettings;
    set(p: Partial<PublicationSettings>): void;
  };
  /** Kraken GraphQL settings (`/_sim/kraken`). */
  readonly kraken: {
    get(): KrakenSettings;
    configure(k: KrakenSettingsInput): void;
    reset(): void;
  };
  /** Behaviour switches (`/_sim/switches`). */
  readonly switches: {
    get(): SimSwitches;
    set(s: Partial<SimSwitches>): void;
  };
  /** Stops listening and drops open connections; idempotent. */
  close(): Promise<void>;
}

/** Starts the simulator and resolves once it listens. */
export async function startSimulator(opts: SimOptions = {}): Promise<Simulator> {
  const options = resolveOptions(opts);
  const log: Logger = opts.logger ?? pino({ level: 'silent' });
  const state = createState(options, log);
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    onRequest(state, req, res).catch((err: unknown) => {
      log.error({ err }, 'unhandled request error');
      req.socket.destroy();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.keepAliveTimeout = 5_000;
  const url = await listen(server, options.port, options.host);
  state.rest.baseUrl = (options.publicBaseUrl ?? url).replace(/\/+$/, '');
  log.info(
    { url, start: state.clock.now().toISOString(), speed: options.speed, seed: options.seed },
    'octopus simulator listening',
  );
  return handle(state, url, closer(state, server, sockets));
}

function onRequest(state: SimState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const pathname = new URL(req.url ?? '/', 'http://sim.invalid').pathname;
  return isAdminPath(pathname) ? serveAdmin(state, req, res) : serveApi(state, req, res);
}

/** Listens and resolves with the base URL the server is reachable at. */
async function listen(server: Server, port: number, host: string): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const hostForUrl = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return `http://${hostForUrl}:${addr.port}`;
}

/** An idempotent close: held-back requests give up, open connections are dropped. */
function closer(state: SimState, server: Server, sockets: Set<Socket>): () => Promise<void> {
  let closing: Promise<void> | undefined;
  return () => {
    closing ??= new Promise<void>((resolve) => {
      state.lifetime.abort();
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
    }).then(() => state.log.info('octopus simulator stopped'));
    return closing;
  };
}

/** The in-process handle: the same controls as the admin API, validated by the same schemas. */
function handle(state: SimState, url: string, close: () => Promise<void>): Simulator {
  const { clock, stats, faults, publication, kraken, switches } = state;
  return {
    url,
    clock,
    stats,
    faults: {
      add: (rule) => faults.add(rule),
      clear: () => faults.clear(),
      remove: (id) => faults.remove(id),
      list: () => faults.list(),
    },
    publication: {
      get: () => ({ ...publication.settings, skipDates: [...publication.settings.skipDates] }),
      set: (p) => setPublication(publication.settings, PublicationSchema.parse(p)),
    },
    kraken: {
      get: () => structuredClone(kraken.settings),
      configure: (k) => kraken.configure(KrakenSettingsSchema.parse(k)),
      reset: () => kraken.reset(),
    },
    switches: {
      get: () => ({ ...switches }),
      set: (s) => setSwitches(switches, SwitchesSchema.parse(s)),
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
