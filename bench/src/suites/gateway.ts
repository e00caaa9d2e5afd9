import { startGateway } from '@ratebus/fixtures';
import { rateKey } from '@ratebus/schema';
import { freePort } from '@ratebus/testkit';
import { BareServer } from '../gateway/bare.js';
import { type LoadResult, type LoadSpec, runUndici, runWrk } from '../gateway/load.js';
import { ensureNginx, findBinary, Nginx } from '../gateway/nginx.js';
import { AGILE_SLOTS, agileDoc, writerBus } from '../propagation/bus.js';
import { Cleanup, fmt } from '../propagation/util.js';
import type { Suite } from '../suite.js';

const PRODUCT = 'AGILE-24-10-01';
const TARIFF = 'E-1R-AGILE-24-10-01-C';
const RATES = `/v1/products/${PRODUCT}/electricity-tariffs/${TARIFF}/standard-unit-rates`;
/** PredBat's first request: the bare standard-unit-rates URL (docs/clients-in-the-wild.md). */
const FIRST = `${RATES}/`;
/** PredBat follows `next` for at most 3 pages. */
const PREDBAT_PAGES = 3;
const CONNECTIONS = 64;
const DAY_MS = 86_400_000;

/** A client's request sequence: its first URL and how many `next` links it follows at most. */
interface Sequence {
  readonly name: string;
  readonly first: string;
  readonly maxPages: number;
}

/**
 * Home Assistant's windowed query (docs/clients-in-the-wild.md §4): no trailing slash, `period_from` and
 * `period_to`, every page. The window is yesterday 00:00 UTC to the day after tomorrow 00:00 UTC (three
 * days, two pages of the held Agile document).
 */
function haFirst(now: number): string {
  const midnight = Math.floor(now / DAY_MS) * DAY_MS;
  const iso = (t: number) => new Date(t).toISOString().replace('.000Z', 'Z');
  return `${RATES}?period_from=${iso(midnight - DAY_MS)}&period_to=${iso(midnight + 2 * DAY_MS)}`;
}

interface Row {
  readonly sequence: string;
  readonly target: string;
  /** The median round (by requests per second). */
  readonly load: LoadResult;
  /** Requests per second of every round, ascending. */
  readonly rounds: readonly number[];
}

/** GET → bytes, 200 only. */
async function get(url: string): Promise<Buffer> {
  const res = await fetch(url);
  const body = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200) throw new Error(`GET ${url}: HTTP ${res.status} ${body.toString().slice(0, 200)}`);
  return body;
}

/** Follows `next` from `first` as a client does, up to `maxPages`: request target → body. */
async function follow(origin: string, seq: Sequence): Promise<Map<string, Buffer>> {
  const pages = new Map<string, Buffer>();
  let url: string | null = `${origin}${seq.first}`;
  while (url && pages.size < seq.maxPages) {
    const body = await get(url);
    const u: URL = new URL(url);
    pages.set(`${u.pathname}${u.search}`, body);
    url = (JSON.parse(body.toString()) as { next: string | null }).next;
  }
  return pages;
}

const GATEWAY_ROW = 'ratebus gateway (node:http, RateClient copy)';
const NGINX_ROW = 'nginx 1 worker, same bytes from disk';
const BARE_ROW = 'bare node:http, same bytes from memory (the limit for one Node process)';

/**
 * Requests per second and latency of PredBat's fetch (page 1, 2, 3 of the standard unit rates) and Home
 * Assistant's windowed fetch (every page) from the gateway process, fed by a RateClient from KV, beside
 * nginx serving the same bytes from disk and a bare node:http process serving them from memory, with the
 * same load generator in one run.
 */
export const gatewaySuite: Suite = async ({ quick, log }) => {
  const warmSeconds = quick ? 1 : 2;
  const seconds = quick ? 3 : 6;
  /** Rounds of the three servers in turn; each server's row is its median round (the machine is shared). */
  const rounds = quick ? 1 : 5;
  const cleanup = new Cleanup();
  const rows: Row[] = [];
  const sequences: Sequence[] = [
    { name: 'PredBat (3 pages)', first: FIRST, maxPages: PREDBAT_PAGES },
    { name: 'Home Assistant (window, all pages)', first: haFirst(Date.now()), maxPages: 50 },
  ];
  const targets = new Map<string, string[]>();
  const pageBytes = new Map<string, number[]>();
  let generator = '';
  try {
    const nginxBin = await ensureNginx(log);
    const wrk = findBinary('wrk');
    const load = (spec: LoadSpec) => (wrk ? runWrk(wrk, spec, cleanup) : runUndici(spec));

    const { ns, buckets } = await writerBus(cleanup, 'bench-gateway-writer');
    await buckets.rates.put(rateKey(PRODUCT, TARIFF), JSON.stringify(agileDoc(PRODUCT, TARIFF)));

    const port = await freePort();
    const gw = await startGateway({
      natsUrl: ns.url,
      port,
      logLevel: 'info',
      env: { HOST: '127.0.0.1' },
    });
    cleanup.add('gateway', () => gw.stop(5_000));
    const gwOrigin = `http://127.0.0.1:${port}`;
    await gw.waitHttpOk(`${gwOrigin}/readyz`).catch((e: unknown) => {
      throw new Error(`gateway not ready: ${gw.output().slice(-2_000)}`, { cause: e });
    });

    // Follow `next` as the clients do; the bodies become nginx's files and the bare server's, byte for byte.
    const files = new Map<string, Buffer>();
    for (const seq of sequences) {
      const pages = await follow(gwOrigin, seq);
      if (seq.maxPages === PREDBAT_PAGES && pages.size !== PREDBAT_PAGES) {
        throw new Error(`the gateway gave ${pages.size} pages, expected ${PREDBAT_PAGES}`);
      }
      if (pages.size < 2) throw new Error(`${seq.name}: expected several pages, got ${pages.size}`);
      targets.set(seq.name, [...pages.keys()]);
      pageBytes.set(
        seq.name,
        [...pages.values()].map((b) => b.length),
      );
      for (const [t, b] of pages) files.set(t, b);
    }

    const nginx = await Nginx.start(nginxBin, files);
    cleanup.add('nginx', () => nginx.stop());
    const bare = await BareServer.start(files);
    cleanup.add('bare node:http', () => bare.stop());
    for (const origin of [nginx.origin, bare.origin]) {
      for (const [path, body] of files) {
        const served = await get(`${origin}${path}`);
        if (!served.equals(body))
          throw new Error(`${origin} serves other bytes than the gateway for ${path}`);
      }
    }

    const servers = [
      [GATEWAY_ROW, gwOrigin],
      [NGINX_ROW, nginx.origin],
      [BARE_ROW, bare.origin],
    ] as const;
    for (const seq of sequences) {
      const paths = targets.get(seq.name) ?? [];
      const measured = new Map<string, LoadResult[]>(servers.map(([t]) => [t, []]));
      for (let round = 0; round < rounds; round++) {
        // Each round starts with the next server: none is always measured first, or after the same one.
        for (let k = 0; k < servers.length; k++) {
          const [target, origin] = servers[(round + k) % servers.length] as (typeof servers)[number];
          await load({ origin, paths, connections: CONNECTIONS, seconds: warmSeconds });
          const r = await load({ origin, paths, connections: CONNECTIONS, seconds });
          if (r.errors > 0) throw new Error(`${seq.name}, ${target}: ${r.errors} failed requests`);
          generator = r.generator;
          measured.get(target)?.push(r);
          log(
            `${seq.name}, ${target}, round ${round + 1}: ${r.rps.toFixed(0)} req/s, p99 ${r.p99.toFixed(2)} ms`,
          );
        }
      }
      for (const [target] of servers) {
        const byRps = [...(measured.get(target) ?? [])].sort((a, b) => a.rps - b.rps);
        const median = byRps[Math.floor(byRps.length / 2)] as LoadResult;
        rows.push({ sequence: seq.name, target, load: median, rounds: byRps.map((r) => Math.round(r.rps)) });
      }
    }
  } finally {
    await cleanup.run(log);
  }

  const nginxRps = (seq: string) =>
    rows.find((r) => r.sequence === seq && r.target === NGINX_ROW)?.load.rps ?? Number.NaN;
  const table = [
    '| client sequence | server | requests / s | of nginx | sequences / s | p50 | p99 | max | requests | errors | requests / s, every round |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|',
    ...rows.map(({ sequence, target, load: r, rounds: all }) => {
      const pages = targets.get(sequence)?.length ?? 1;
      const share = `${fmt((100 * r.rps) / nginxRps(sequence), 0)} %`;
      return `| ${sequence} | ${target} | ${fmt(r.rps, 0)} | ${share} | ${fmt(r.rps / pages, 0)} | ${fmt(r.p50, 2)} ms | ${fmt(r.p99, 2)} ms | ${fmt(r.max, 1)} ms | ${r.requests} | ${r.errors} | ${all.join(', ')} |`;
    }),
  ].join('\n');
  const sizes = (name: string) =>
    (pageBytes.get(name) ?? []).map((b) => `${(b / 1024).toFixed(1)} KiB`).join(', ');
  const [predbat, ha] = sequences as [Sequence, Sequence];
  const markdown = [
    `PredBat's request: \`GET ${FIRST}\` with no parameters, then pages 2 and 3 as it follows \`next\` (${sizes(predbat.name)}), the three URLs in turn. ` +
      `Home Assistant's: \`GET ${RATES}?period_from=…&period_to=…\` (no trailing slash; yesterday 00:00 UTC to the day after tomorrow 00:00 UTC), then every \`next\` (${sizes(ha.name)}). ` +
      `The gateway (\`services/gateway\`, one Node process) answers from its RateClient's copy of one Agile document (${AGILE_SLOTS} slots) put into KV on a local nats-server; ` +
      'the bodies it returned are written to disk and served by nginx (one worker, `sendfile`, access log off, a `map` from request target to file), and served from memory by a bare `node:http` process (`bench/src/gateway/bare-server.ts`: a `Map` lookup, `writeHead`, `end`), both checked byte for byte first. ' +
      `Same load generator for all: ${generator || '—'}, keep-alive, loopback; ${rounds} rounds of the three servers in turn (each round starting with the next server), each ${warmSeconds} s warm-up then ${seconds} s measured; a row is the server's median round by requests per second (all rounds in the last column). ` +
      "Servers and generator share the machine's cores.",
    '',
    table,
  ].join('\n');
  return {
    title: 'Gateway: PredBat and Home Assistant requests, beside nginx and a bare node:http server',
    markdown,
    data: {
      connections: CONNECTIONS,
      warmSeconds,
      seconds,
      rounds,
      targets: Object.fromEntries(targets),
      pageBytes: Object.fromEntries(pageBytes),
      rows,
    },
  };
};
