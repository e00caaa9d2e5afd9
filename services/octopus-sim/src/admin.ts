/**
 * The admin API under `/_sim/`: the clock, request stats, faults, publication, Kraken settings and
 * behaviour switches. Tests, the demo and benchmarks drive the simulator through it; the real API has none
 * of it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { SimRequestError } from './errors.js';
import { FaultRuleSchema } from './faults.js';
import { readBody, type SimResponse, send } from './http-util.js';
import { KrakenSettingsSchema } from './kraken.js';
import type { PublicationSettings } from './publication.js';
import { type SimState, setSwitches } from './state.js';

export const ADMIN_PREFIX = '/_sim';

export const PublicationSchema = z.strictObject({
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
export const SwitchesSchema = z.strictObject({
  electricityVatHoliday: z.boolean().optional(),
  listTrackerProducts: z.boolean().optional(),
  directionNullOnDetail: z.boolean().optional(),
});

/** True for the admin paths (`/_sim` and below). */
export function isAdminPath(pathname: string): boolean {
  return pathname === ADMIN_PREFIX || pathname.startsWith(`${ADMIN_PREFIX}/`);
}

/** Answers one admin request; a body that fails its schema gets 400 with every problem. */
export async function serveAdmin(state: SimState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const method = req.method ?? 'GET';
  const pathname = new URL(req.url ?? '/', 'http://sim.invalid').pathname;
  try {
    const body = method === 'POST' ? await readBody(req) : '';
    send(res, handleAdmin(state, method, pathname, body), false);
  } catch (err) {
    if (!(err instanceof SimRequestError)) throw err;
    send(res, adminJson(400, { error: err.code, problems: err.problems }), false);
  }
}

/** Changes the publication settings given, leaves the others. */
export function setPublication(
  settings: PublicationSettings,
  change: z.infer<typeof PublicationSchema>,
): void {
  if (change.delayMinutes !== undefined) settings.delayMinutes = change.delayMinutes;
  if (change.skipDates !== undefined) settings.skipDates = [...change.skipDates];
}

type Route = (state: SimState, body: string) => SimResponse;

const ok = () => adminJson(200, { ok: true });
const clockView = (s: SimState) => adminJson(200, { now: s.clock.now().toISOString(), speed: s.clock.speed });

const ROUTES: Readonly<Record<string, Route>> = {
  'GET /_sim/health': ok,
  'GET /_sim/clock': clockView,
  'POST /_sim/clock': setClock,
  'GET /_sim/stats': (s) => adminJson(200, s.stats.snapshot()),
  'POST /_sim/stats/reset': (s) => {
    s.stats.reset();
    return ok();
  },
  'GET /_sim/faults': (s) => adminJson(200, s.faults.list()),
  'POST /_sim/faults': (s, body) => adminJson(200, { id: s.faults.add(parseBody(FaultRuleSchema, body)) }),
  'DELETE /_sim/faults': (s) => {
    s.faults.clear();
    return ok();
  },
  'GET /_sim/publication': (s) => adminJson(200, s.publication.settings),
  'POST /_sim/publication': (s, body) => {
    setPublication(s.publication.settings, parseBody(PublicationSchema, body));
    return adminJson(200, s.publication.settings);
  },
  'GET /_sim/kraken': (s) => adminJson(200, s.kraken.settings),
  'POST /_sim/kraken': (s, body) => {
    s.kraken.configure(parseBody(KrakenSettingsSchema, body));
    return adminJson(200, s.kraken.settings);
  },
  'DELETE /_sim/kraken': (s) => {
    s.kraken.reset();
    return adminJson(200, s.kraken.settings);
  },
  'GET /_sim/switches': (s) => adminJson(200, s.switches),
  'POST /_sim/switches': (s, body) => {
    setSwitches(s.switches, parseBody(SwitchesSchema, body));
    return adminJson(200, s.switches);
  },
};

function handleAdmin(state: SimState, method: string, path: string, body: string): SimResponse {
  const route = `${method} ${path.replace(/\/+$/, '')}`;
  const handler = ROUTES[route];
  if (handler) return handler(state, body);
  const del = /^DELETE \/_sim\/faults\/([^/]+)$/.exec(route);
  if (del) {
    return state.faults.remove(decodeURIComponent(del[1] as string))
      ? ok()
      : adminJson(404, { error: 'unknown fault id' });
  }
  return adminJson(404, { error: `unknown admin route ${route}` });
}

function setClock(state: SimState, body: string): SimResponse {
  const b = parseBody(ClockSchema, body);
  if (b.now !== undefined) state.clock.set(b.now);
  if (b.speed !== undefined) state.clock.setSpeed(b.speed);
  state.log.info({ now: state.clock.now().toISOString(), speed: state.clock.speed }, 'clock changed');
  return clockView(state);
}

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
