import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import pino, { type Logger } from 'pino';
import { z } from 'zod';
import { Catalogue } from './catalogue.js';
import { type SimClock, SimulatedClock } from './clock.js';
import { parseQuery } from './drf.js';
import { SimRequestError } from './errors.js';
import { type FaultEntry, type FaultRule, FaultRuleSchema, FaultTable, type SimFaults } from './faults.js';
import { json, nginxError, type SimResponse } from './http-util.js';
import { Kraken, type KrakenSettings, type KrakenSettingsInput, KrakenSettingsSchema } from './kraken.js';
import { resolveOptions, type SimOptions } from './options.js';
import { Publication, type PublicationSettings } from './publication.js';
import { DEFAULT_SWITCHES, handleRest, isRatesPath, type SimSwitches } from './rest.js';
import { type SimStats, StatsRecorder, type StatsTicket } from './stats.js';

/** Largest request body accepted (GraphQL and admin), bytes. */
export const MAX_BODY_BYTES = 1 << 20;

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

const PublicationSchema = z.strictObject({
  delayMinutes: z
    .number()
    .min(0)
    .max(24 * 60)
    .optional(),
  skipDates: z.array(z.iso.date()).optional(),
});
const ClockSchema = z.strictObject({
  now: z.iso.datetime({ offset: true }).optional(),
  speed: z.number().min(0).max(1_000_000).optional(),
});
const SwitchesSchema = z.strictObject({
  electricityVatHoliday: z.boolean().optional(),
  listTrackerProducts: z.boolean().optional(),
  directionNullOnDetail: z.boolean().optional(),
});

function parseBody<S extends z.ZodType>(schema: S, text: string): z.infer<S> {
  let value: unknown;
  try {
    value = text.trim() === '' ? {} : JSON.parse(text);
  } catch (cause) {
    throw new SimRequestError(['body is not JSON'], { cause });
  }
  const r = schema.safeParse(value);
  if (!r.success)
    throw new SimRequestError(r.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`));
  return r.data;
}

function adminJson(status: number, body: unknown): SimResponse {
  return {
    status,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
    body: JSON.stringify(body),
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new SimRequestError(['body too large']));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, r: SimResponse, head: boolean): void {
  const body = Buffer.from(r.body, 'utf8');
  res.writeHead(r.status, { ...r.headers, 'content-length': String(body.length) });
  res.end(head ? undefined : body);
}

function serverError(): SimResponse {
  const hex = (n: number) => randomBytes(n).toString('hex');
  return json(500, { detail: 'Server error.', correlation_id: `1-${hex(4)}-${hex(12)}`, error_id: hex(16) });
}

/** A body that starts like a rates page and stops mid-object: valid headers, invalid JSON. */
const MALFORMED_BODY =
  '{"count": 48, "next": null, "previous": null, "results": [{"value_exc_vat": 12.34, "value_inc_vat": 12.957, "valid_from": "20';

/** Starts the simulator and resolves once it listens. */
export async function startSimulator(opts: SimOptions = {}): Promise<Simulator> {
  const o = resolveOptions(opts);
  const log: Logger = opts.logger ?? pino({ level: 'silent' });
  const start =
    o.start === undefined
      ? Date.now()
      : typeof o.start === 'string'
        ? Date.parse(o.start)
        : o.start.getTime();
  const clock = new SimulatedClock(start, o.speed);
  const publication = new Publication(o.publicationDelayMinutes);
  const catalogue = new Catalogue(o.seed, publication);
  const switches: SimSwitches = { ...DEFAULT_SWITCHES };
  for (const [k, v] of Object.entries(o.switches ?? {}))
    if (v !== undefined) switches[k as keyof SimSwitches] = v;
  const faults = new FaultTable();
  const stats = new StatsRecorder();
  const kraken = new Kraken();
  const lifetime = new AbortController();
  const sockets = new Set<Socket>();
  let baseUrl = '';

  const rest = {
    catalogue,
    switches,
    now: () => clock.nowMs(),
    get baseUrl() {
      return baseUrl;
    },
  };

  function admin(method: string, path: string, body: string): SimResponse {
    const p = path.replace(/\/+$/, '');
    const route = `${method} ${p}`;
    switch (route) {
      case 'GET /_sim/health':
        return adminJson(200, { ok: true });
      case 'GET /_sim/clock':
        return adminJson(200, { now: clock.now().toISOString(), speed: clock.speed });
      case 'POST /_sim/clock': {
        const b = parseBody(ClockSchema, body);
        if (b.now !== undefined) clock.set(b.now);
        if (b.speed !== undefined) clock.setSpeed(b.speed);
        log.info({ now: clock.now().toISOString(), speed: clock.speed }, 'clock changed');
        return adminJson(200, { now: clock.now().toISOString(), speed: clock.speed });
      }
      case 'GET /_sim/stats':
        return adminJson(200, stats.snapshot());
      case 'POST /_sim/stats/reset':
        stats.reset();
        return adminJson(200, { ok: true });
      case 'GET /_sim/faults':
        return adminJson(200, faults.list());
      case 'POST /_sim/faults': {
        const id = faults.add(parseBody(FaultRuleSchema, body));
        return adminJson(200, { id });
      }
      case 'DELETE /_sim/faults':
        faults.clear();
        return adminJson(200, { ok: true });
      case 'GET /_sim/publication':
        return adminJson(200, publication.settings);
      case 'POST /_sim/publication': {
        const b = parseBody(PublicationSchema, body);
        if (b.delayMinutes !== undefined) publication.settings.delayMinutes = b.delayMinutes;
        if (b.skipDates !== undefined) publication.settings.skipDates = [...b.skipDates];
        return adminJson(200, publication.settings);
      }
      case 'GET /_sim/kraken':
        return adminJson(200, kraken.settings);
      case 'POST /_sim/kraken':
        kraken.configure(parseBody(KrakenSettingsSchema, body));
        return adminJson(200, kraken.settings);
      case 'DELETE /_sim/kraken':
        kraken.reset();
        return adminJson(200, kraken.settings);
      case 'GET /_sim/switches':
        return adminJson(200, switches);
      case 'POST /_sim/switches': {
        const b = parseBody(SwitchesSchema, body);
        for (const [k, v] of Object.entries(b)) if (v !== undefined) switches[k as keyof SimSwitches] = v;
        return adminJson(200, switches);
      }
    }
    const del = /^DELETE \/_sim\/faults\/([^/]+)$/.exec(route);
    if (del) {
      return faults.remove(decodeURIComponent(del[1] as string))
        ? adminJson(200, { ok: true })
        : adminJson(404, { error: 'unknown fault id' });
    }
    return adminJson(404, { error: `unknown admin route ${route}` });
  }

  async function serveApi(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    ticket: StatsTicket,
  ): Promise<number> {
    const method = req.method ?? 'GET';
    const path = url.pathname.endsWith('/') ? url.pathname : `${url.pathname}/`;
    const isGraphql = path === '/v1/graphql/';
    const plan = faults.plan(
      url.pathname,
      (kind) => kind !== 'missingSlots' || (method === 'GET' && isRatesPath(path)),
    );
    if (plan.delayMs > 0) await sleep(plan.delayMs, undefined, { signal: lifetime.signal });
    const body = method === 'POST' || method === 'PUT' ? await readBody(req) : '';
    const fault = plan.fault;
    if (fault) log.debug({ path: url.pathname, fault: fault.kind, id: fault.id }, 'fault applied');
    const head = method === 'HEAD';
    switch (fault?.kind) {
      case 'reset':
        req.socket.destroy();
        return 0;
      case 'json500':
        send(res, serverError(), head);
        return 500;
      case 'html502':
        send(res, nginxError(502), head);
        return 502;
      case 'html504':
        send(res, nginxError(504), head);
        return 504;
      case 'throttle429': {
        const n = fault.retryAfterSeconds ?? 1;
        send(
          res,
          json(
            429,
            { detail: `Request was throttled. Expected available in ${n} seconds.` },
            { 'retry-after': String(n) },
          ),
          head,
        );
        return 429;
      }
      case 'malformed':
        send(res, { ...json(200, null), body: MALFORMED_BODY }, head);
        return 200;
    }
    let answer: SimResponse;
    if (isGraphql) {
      answer =
        method === 'POST'
          ? kraken.handle(body, req.headers.authorization, clock.nowMs(), (op) => ticket.operation(op))
          : json(405, { detail: `Method "${method}" not allowed.` });
    } else if (method === 'GET' || method === 'HEAD') {
      answer = handleRest(rest, {
        path,
        query: parseQuery(url.search),
        ...(fault?.kind === 'missingSlots' ? { dropMiddleRows: true } : {}),
      });
    } else if (method === 'OPTIONS') {
      answer = json(200, {});
    } else {
      answer = json(405, { detail: `Method "${method}" not allowed.` });
    }
    if (fault?.kind === 'truncate') {
      const full = Buffer.from(answer.body, 'utf8');
      res.writeHead(answer.status, { ...answer.headers, 'content-length': String(full.length) });
      res.write(full.subarray(0, Math.floor(full.length / 2)), () => res.socket?.destroy());
      return answer.status;
    }
    send(res, answer, head);
    return answer.status;
  }

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sim.invalid');
    const method = req.method ?? 'GET';
    if (url.pathname === '/_sim' || url.pathname.startsWith('/_sim/')) {
      try {
        const body = method === 'POST' ? await readBody(req) : '';
        send(res, admin(method, url.pathname, body), false);
      } catch (err) {
        if (err instanceof SimRequestError)
          send(res, adminJson(400, { error: err.code, problems: err.problems }), false);
        else throw err;
      }
      return;
    }
    const header = (name: string) => {
      const v = req.headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    const countedPath = url.pathname.endsWith('/') ? url.pathname : `${url.pathname}/`;
    const ticket = stats.begin({
      method,
      path: countedPath,
      query: url.search.replace(/^\?/, ''),
      caller: header('x-sim-caller') ?? header('user-agent') ?? '-',
      simAt: clock.now(),
    });
    let status = 0;
    try {
      status = await serveApi(req, res, url, ticket);
    } catch (err) {
      if (lifetime.signal.aborted) {
        req.socket.destroy();
        return;
      }
      log.error({ err, path: url.pathname }, 'request failed');
      if (!res.headersSent) send(res, serverError(), false);
      status = 500;
    } finally {
      ticket.finish(status);
      log.debug({ method, path: url.pathname, status }, 'request');
    }
  }

  const server = createServer((req, res) => {
    onRequest(req, res).catch((err: unknown) => {
      log.error({ err }, 'unhandled request error');
      req.socket.destroy();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const hostForUrl = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `http://${hostForUrl}:${addr.port}`;
  baseUrl = (o.publicBaseUrl ?? url).replace(/\/+$/, '');
  log.info(
    { url, start: clock.now().toISOString(), speed: o.speed, seed: o.seed },
    'octopus simulator listening',
  );

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= new Promise<void>((resolve) => {
      lifetime.abort();
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
    }).then(() => log.info('octopus simulator stopped'));
    return closing;
  };

  return {
    url,
    clock,
    stats,
    faults: {
      add: (rule: FaultRule) => faults.add(rule),
      clear: () => faults.clear(),
      remove: (id: string) => faults.remove(id),
      list: (): FaultEntry[] => faults.list(),
    },
    publication: {
      get: () => ({ ...publication.settings, skipDates: [...publication.settings.skipDates] }),
      set: (p) => {
        const b = PublicationSchema.parse(p);
        if (b.delayMinutes !== undefined) publication.settings.delayMinutes = b.delayMinutes;
        if (b.skipDates !== undefined) publication.settings.skipDates = [...b.skipDates];
      },
    },
    kraken: {
      get: () => structuredClone(kraken.settings),
      configure: (k) => kraken.configure(KrakenSettingsSchema.parse(k)),
      reset: () => kraken.reset(),
    },
    switches: {
      get: () => ({ ...switches }),
      set: (s) => {
        for (const [k, v] of Object.entries(SwitchesSchema.parse(s)))
          if (v !== undefined) switches[k as keyof SimSwitches] = v;
      },
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
