import { fileURLToPath } from 'node:url';
import { connect } from '@nats-io/transport-node';
import { rateKey } from '@ratebus/schema';
import { check, freePort, ManagedProcess, NatsServer } from '@ratebus/testkit';
import { type LoadResult, type LoadSpec, runUndici, runWrk } from '../gateway/load.js';
import { ensureNginx, findBinary, Nginx } from '../gateway/nginx.js';
import { AGILE_SLOTS, agileDoc, createBuckets } from '../propagation/bus.js';
import { Cleanup, fmt } from '../propagation/util.js';
import type { Suite } from '../suite.js';

const GATEWAY = fileURLToPath(new URL('../../../../services/gateway/dist/src/main.js', import.meta.url));
const PRODUCT = 'AGILE-24-10-01';
const TARIFF = 'E-1R-AGILE-24-10-01-C';
/** PredBat's first request: the bare standard-unit-rates URL (docs/clients-in-the-wild.md). */
const FIRST = `/v1/products/${PRODUCT}/electricity-tariffs/${TARIFF}/standard-unit-rates/`;
/** PredBat follows `next` for at most 3 pages. */
const PAGES = 3;
const CONNECTIONS = 64;

interface Row {
  readonly target: string;
  readonly load: LoadResult;
}

/** GET → bytes, 200 only. */
async function get(url: string): Promise<Buffer> {
  const res = await fetch(url);
  const body = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200) throw new Error(`GET ${url}: HTTP ${res.status} ${body.toString().slice(0, 200)}`);
  return body;
}

/**
 * Requests per second and latency of a PredBat-style fetch (page 1, 2, 3 of the standard unit rates) from
 * the gateway process, fed by a RateClient from KV, beside nginx serving the same bytes from disk, with the
 * same load generator in one run.
 */
export const gatewaySuite: Suite = async ({ quick, log }) => {
  const warmSeconds = quick ? 1 : 3;
  const seconds = quick ? 3 : 15;
  const cleanup = new Cleanup();
  const rows: Row[] = [];
  let paths: string[] = [];
  let pageBytes: number[] = [];
  let generator = '';
  try {
    const nginxBin = await ensureNginx(log);
    const wrk = findBinary('wrk');
    const load = (spec: LoadSpec) => (wrk ? runWrk(wrk, spec, cleanup) : runUndici(spec));

    const ns = await NatsServer.start();
    cleanup.add('nats-server', () => ns.stop());
    const nc = await connect({ servers: ns.url, name: 'bench-gateway-writer' });
    cleanup.add('writer connection', () => nc.close());
    const buckets = await createBuckets(nc);
    await buckets.rates.put(rateKey(PRODUCT, TARIFF), JSON.stringify(agileDoc(PRODUCT, TARIFF)));

    const port = await freePort();
    const gw = await ManagedProcess.start({
      name: 'gateway',
      command: process.execPath,
      args: [GATEWAY],
      env: { ...process.env, NATS_URL: ns.url, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info' },
    });
    cleanup.add('gateway', () => gw.stop(5_000));
    const gwOrigin = `http://127.0.0.1:${port}`;
    await check(
      async () => {
        if (!gw.running) throw new Error(`gateway exited: ${gw.output().slice(-2_000)}`);
        const res = await fetch(`${gwOrigin}/readyz`);
        await res.arrayBuffer();
        return res.ok;
      },
      { name: 'gateway /readyz', timeout: 30_000, interval: 100 },
    ).catch((e: unknown) => {
      throw new Error(`gateway not ready: ${gw.output().slice(-2_000)}`, { cause: e });
    });

    // Follow `next` as PredBat does; the bodies become nginx's files, byte for byte.
    const files = new Map<string, Buffer>();
    let url: string | null = `${gwOrigin}${FIRST}`;
    while (url && files.size < PAGES) {
      const body = await get(url);
      const u: URL = new URL(url);
      files.set(`${u.pathname}${u.search}`, body);
      url = (JSON.parse(body.toString()) as { next: string | null }).next;
    }
    if (files.size !== PAGES) throw new Error(`the gateway gave ${files.size} pages, expected ${PAGES}`);
    paths = [...files.keys()];
    pageBytes = [...files.values()].map((b) => b.length);

    const nginx = await Nginx.start(nginxBin, files);
    cleanup.add('nginx', () => nginx.stop());
    for (const [path, body] of files) {
      const served = await get(`${nginx.origin}${path}`);
      if (!served.equals(body)) throw new Error(`nginx serves other bytes than the gateway for ${path}`);
    }

    for (const [target, origin] of [
      ['ratebus gateway (node:http, RateClient copy)', gwOrigin],
      ['nginx 1 worker, same bytes from disk', nginx.origin],
    ] as const) {
      await load({ origin, paths, connections: CONNECTIONS, seconds: warmSeconds });
      const r = await load({ origin, paths, connections: CONNECTIONS, seconds });
      if (r.errors > 0) throw new Error(`${target}: ${r.errors} failed requests`);
      generator = r.generator;
      rows.push({ target, load: r });
      log(`${target}: ${r.rps.toFixed(0)} req/s, p99 ${r.p99.toFixed(2)} ms`);
    }
  } finally {
    await cleanup.run(log);
  }

  const table = [
    '| server | requests / s | PredBat fetches (3 pages) / s | p50 | p99 | max | requests | errors |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      ({ target, load: r }) =>
        `| ${target} | ${fmt(r.rps, 0)} | ${fmt(r.rps / PAGES, 0)} | ${fmt(r.p50, 2)} ms | ${fmt(r.p99, 2)} ms | ${fmt(r.max, 1)} ms | ${r.requests} | ${r.errors} |`,
    ),
  ].join('\n');
  const markdown = [
    `PredBat's request: \`GET ${FIRST}\` with no parameters, then pages 2 and 3 as it follows \`next\` (${pageBytes.map((b) => `${(b / 1024).toFixed(1)} KiB`).join(', ')}), the three URLs in turn. ` +
      `The gateway (\`services/gateway\`, one Node process) answers from its RateClient's copy of one Agile document (${AGILE_SLOTS} slots) put into KV on a local nats-server; ` +
      'the three bodies it returned are written to disk and served by nginx (one worker, `sendfile`, access log off), checked byte for byte first. ' +
      `Same load generator for both: ${generator || '—'}, keep-alive, loopback; ${warmSeconds} s warm-up, then ${seconds} s measured, one server after the other. ` +
      "Server and generator share the machine's cores.",
    '',
    table,
  ].join('\n');
  return {
    title: 'Gateway: PredBat-style requests, beside nginx serving the same bytes',
    markdown,
    data: { connections: CONNECTIONS, warmSeconds, seconds, paths, pageBytes, rows },
  };
};
