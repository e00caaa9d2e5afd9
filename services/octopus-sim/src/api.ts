/**
 * The Octopus API itself: the REST endpoints and the Kraken GraphQL endpoint, every request counted in the
 * stats and open to the injected faults.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FaultEntry } from './faults.js';
import { json, nginxError, readBody, type SimResponse, send, serverError } from './http-util.js';
import { parseQuery } from './query-and-pagination.js';
import { handleRest, isRatesPath } from './rest.js';
import type { SimState } from './state.js';
import type { StatsTicket } from './stats.js';

/** A body that starts like a rates page and stops mid-object: valid headers, invalid JSON. */
const MALFORMED_BODY =
  '{"count": 48, "next": null, "previous": null, "results": [{"value_exc_vat": 12.34, "value_inc_vat": 12.957, "valid_from": "20';

const GRAPHQL_PATH = '/v1/graphql/';

/** One API request, as the code below sees it. */
interface ApiRequest {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly method: string;
  readonly url: URL;
  /** The path with a trailing slash. */
  readonly path: string;
  readonly ticket: StatsTicket;
}

const withSlash = (pathname: string) => (pathname.endsWith('/') ? pathname : `${pathname}/`);

/** Counts the request on arrival, answers it (faults first) and records its status. */
export async function serveApi(state: SimState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://sim.invalid');
  const method = req.method ?? 'GET';
  const path = withSlash(url.pathname);
  const header = (name: string) => {
    const v = req.headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  const ticket = state.stats.begin({
    method,
    path,
    query: url.search.replace(/^\?/, ''),
    caller: header('x-sim-caller') ?? header('user-agent') ?? '-',
    simAt: state.clock.now(),
  });
  let status = 0;
  try {
    status = await answer(state, { req, res, method, url, path, ticket });
  } catch (err) {
    if (state.lifetime.signal.aborted) {
      req.socket.destroy();
      return;
    }
    state.log.error({ err, path: url.pathname }, 'request failed');
    if (!res.headersSent) send(res, serverError(), false);
    status = 500;
  } finally {
    ticket.finish(status);
    state.log.debug({ method, path: url.pathname, status }, 'request');
  }
}

/** Applies the faults planned for this request, else answers it; returns the status sent (0: none). */
async function answer(state: SimState, r: ApiRequest): Promise<number> {
  const plan = state.faults.plan(
    r.url.pathname,
    (kind) => kind !== 'missingSlots' || (r.method === 'GET' && isRatesPath(r.path)),
  );
  if (plan.delayMs > 0) await sleep(plan.delayMs, undefined, { signal: state.lifetime.signal });
  const body = r.method === 'POST' || r.method === 'PUT' ? await readBody(r.req) : '';
  const fault = plan.fault;
  if (fault) state.log.debug({ path: r.url.pathname, fault: fault.kind, id: fault.id }, 'fault applied');
  const replaced = fault ? faultAnswer(fault) : undefined;
  if (replaced === 'reset') {
    r.req.socket.destroy();
    return 0;
  }
  const out = replaced ?? route(state, r, body, fault?.kind === 'missingSlots');
  if (fault?.kind === 'truncate') sendHalf(r.res, out);
  else send(r.res, out, r.method === 'HEAD');
  return out.status;
}

/** What a fault answers instead of the API; `reset` drops the connection; undefined: the API answers. */
function faultAnswer(fault: FaultEntry): SimResponse | 'reset' | undefined {
  switch (fault.kind) {
    case 'reset':
      return 'reset';
    case 'json500':
      return serverError();
    case 'html502':
      return nginxError(502);
    case 'html504':
      return nginxError(504);
    case 'throttle429': {
      const n = fault.retryAfterSeconds ?? 1;
      const detail = `Request was throttled. Expected available in ${n} seconds.`;
      return json(429, { detail }, { 'retry-after': String(n) });
    }
    case 'malformed':
      return { ...json(200, null), body: MALFORMED_BODY };
    default:
      return undefined;
  }
}

/** The API's own answer: GraphQL, REST, or 405. */
function route(state: SimState, r: ApiRequest, body: string, dropMiddleRows: boolean): SimResponse {
  const notAllowed = () => json(405, { detail: `Method "${r.method}" not allowed.` });
  if (r.path === GRAPHQL_PATH) {
    if (r.method !== 'POST') return notAllowed();
    const { authorization } = r.req.headers;
    return state.kraken.handle(body, authorization, state.clock.nowMs(), (op) => r.ticket.operation(op));
  }
  if (r.method === 'GET' || r.method === 'HEAD') {
    const query = parseQuery(r.url.search);
    return handleRest(state.rest, { path: r.path, query, ...(dropMiddleRows ? { dropMiddleRows } : {}) });
  }
  return r.method === 'OPTIONS' ? json(200, {}) : notAllowed();
}

/** The `truncate` fault: full headers, half the body, then the connection drops. */
function sendHalf(res: ServerResponse, out: SimResponse): void {
  const full = Buffer.from(out.body, 'utf8');
  res.writeHead(out.status, { ...out.headers, 'content-length': String(full.length) });
  res.write(full.subarray(0, Math.floor(full.length / 2)), () => res.socket?.destroy());
}
