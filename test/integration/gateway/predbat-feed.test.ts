import assert from 'node:assert/strict';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { RateClient } from '@ratebus/client';
import { type FetcherProcess, refreshBody, startFetcher } from '@ratebus/fixtures';
import {
  createdString,
  entryFiles,
  NatsUrlCache,
  PREDBAT_READ_AFTER_MS,
  PREDBAT_READ_BEFORE_MS,
  PredbatFeed,
  predbatKey,
  predbatUrl,
} from '@ratebus/gateway';
import { type Simulator, startSimulator } from '@ratebus/octopus-sim';
import { refreshSubject, type TariffRef, tariffRef } from '@ratebus/schema';
import { check, NatsServer } from '@ratebus/testkit';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { type Read, readWithPython, upstreamValue } from './predbat-reader.js';

/**
 * Issue 15: the PredBat storage feed, with real components — the simulator as upstream, a nats-server, a
 * real fetcher process, a RateClient and the shared URL cache — and a reader written in Python 3 from the
 * documented format (docs/predbat.md; PyYAML `safe_load`, as PredBat reads its cache).
 *
 * The simulator's clock is frozen (speed 0) on Monday 26 Oct 2026 18:10 UK and moved by the tests; the
 * fetcher and the feed follow it.
 */

const AGILE = tariffRef('AGILE-24-10-01', 'E-1R-AGILE-24-10-01-C');
const FLEX_E7 = tariffRef('VAR-22-11-01', 'E-2R-VAR-22-11-01-A');
const FLEX_GAS = tariffRef('VAR-22-11-01', 'G-1R-VAR-22-11-01-A');
const GO = tariffRef('GO-VAR-22-10-14', 'E-1R-GO-VAR-22-10-14-C');
/** Not on the public API: PredBat reads FLUX-IMPORT's URLs instead. */
const INTELLI_FLUX_EXPORT = tariffRef('INTELLI-FLUX-EXPORT-23-07-14', 'E-1R-INTELLI-FLUX-EXPORT-23-07-14-C');
const FLUX_IMPORT = tariffRef('FLUX-IMPORT-23-02-14', 'E-1R-FLUX-IMPORT-23-02-14-C');
/** Not configured anywhere: found through an entry PredBat wrote. */
const GO_A = tariffRef('GO-VAR-22-10-14', 'E-1R-GO-VAR-22-10-14-A');

const SIM_START = '2026-10-26T18:10:00Z';

const fuelPath = (t: string) => (t.startsWith('G-') ? 'gas-tariffs' : 'electricity-tariffs');
const ratesPath = (r: TariffRef, charge: string) =>
  `/v1/products/${r.product}/${fuelPath(r.tariff)}/${r.tariff}/${charge}/`;
const productPath = (p: string) => `/v1/products/${p}/`;

/** Every URL PredBat requests for the configured tariffs (docs/predbat.md § URLs). */
const FED_PATHS = [
  productPath(AGILE.product),
  ratesPath(AGILE, 'standard-unit-rates'),
  ratesPath(AGILE, 'standing-charges'),
  productPath(FLEX_E7.product),
  ratesPath(FLEX_E7, 'day-unit-rates'),
  ratesPath(FLEX_E7, 'night-unit-rates'),
  ratesPath(FLEX_E7, 'standing-charges'),
  ratesPath(FLEX_GAS, 'standard-unit-rates'),
  ratesPath(FLEX_GAS, 'standing-charges'),
  productPath(GO.product),
  ratesPath(GO, 'standard-unit-rates'),
  ratesPath(GO, 'standing-charges'),
  productPath(FLUX_IMPORT.product),
  ratesPath(FLUX_IMPORT, 'standard-unit-rates'),
  ratesPath(FLUX_IMPORT, 'standing-charges'),
];

interface Row {
  valid_from: string;
  valid_to: string | null;
}
/** Rows PredBat reads: overlapping midnight UTC − 24 h … + 48 h. */
function predbatWindow(rows: Row[], nowMs: number): Row[] {
  const midnight = Math.floor(nowMs / 86_400_000) * 86_400_000;
  const from = midnight - PREDBAT_READ_BEFORE_MS;
  const to = midnight + PREDBAT_READ_AFTER_MS;
  return rows.filter(
    (r) => Date.parse(r.valid_from) < to && (r.valid_to === null || Date.parse(r.valid_to) > from),
  );
}

const metaPath = (dir: string, path: string) => join(dir, entryFiles(predbatKey(predbatUrl(path))).meta);
const yamlPath = (dir: string, path: string) => join(dir, entryFiles(predbatKey(predbatUrl(path))).yaml);
const createdOf = (dir: string, path: string) =>
  (JSON.parse(readFileSync(metaPath(dir, path), 'utf8')) as { created: string }).created;

/** Writes a file the way a careful test stands in for PredBat: whole (PredBat itself truncates and writes). */
function writeWhole(path: string, text: string): void {
  writeFileSync(`${path}.test-tmp`, text);
  renameSync(`${path}.test-tmp`, path);
}

describe('PredBat storage feed (simulator + real fetcher + Python reader)', function () {
  this.timeout(120_000);
  let sim: Simulator;
  let ns: NatsServer;
  let fetcher: FetcherProcess;
  let client: RateClient;
  let nc: NatsConnection;
  let feed: PredbatFeed;
  let root: string;
  let dir: string;
  const foreign = new Map<string, { bytes: Buffer; mtimeMs: number }>();
  const simNow = () => sim.clock.now().getTime();

  before(async () => {
    sim = await startSimulator({ port: 0, start: SIM_START, speed: 0 });
    ns = await NatsServer.start();
    root = mkdtempSync(join(tmpdir(), 'ratebus-predbat-'));
    dir = join(root, 'cache');
    mkdirSync(dir);
    // Per-user files that share PredBat's cache directory: the feed must never touch them.
    const old = new Date('2026-01-02T03:04:05Z');
    for (const [name, text] of [
      ['octopus_user_secrets.yaml', 'kraken_token: eyJsecret\nrefresh_token: r3fresh\n'],
      ['octopus_user_secrets.meta', '{"format": "yaml", "expiry": null, "module": "octopus_user"}'],
      ['octopus_0123456789abcdef.yaml', '- unrelated\n'],
      [
        'octopus_0123456789abcdef.meta',
        '{"format":"yaml","expiry":null,"module":"octopus","created":"2026-10-01T00:00:00+00:00"}',
      ],
      ['.octopus_0123456789abcdef.yaml.1-deadbeef.tmp.not-ours', 'x'],
      ['notes.txt', 'hello'],
    ] as const) {
      const p = join(dir, name);
      writeFileSync(p, text);
      utimesSync(p, old, old);
      foreign.set(name, { bytes: readFileSync(p), mtimeMs: statSync(p).mtimeMs });
    }
    const config = join(root, 'ratebus.yaml');
    writeFileSync(
      config,
      stringify({ tariffs: [AGILE, FLEX_E7, FLEX_GAS, GO, FLUX_IMPORT], schedule: { windowDays: 7 } }),
    );
    fetcher = await startFetcher({
      id: 'predbat-feed',
      natsUrl: ns.url,
      upstream: sim.url,
      config,
      logLevel: 'warn',
      simClock: true,
    });
    client = await RateClient.connect({ servers: ns.url, name: 'predbat-gateway', now: simNow });
    nc = await connect({ servers: ns.url, name: 'predbat-gateway-urls' });
    feed = new PredbatFeed({
      dir,
      source: client,
      urlCache: new NatsUrlCache({ nc, by: 'predbat-gateway', timeoutMs: 10_000 }),
      logger: pino({ level: 'silent' }),
      tariffs: [AGILE, FLEX_E7, FLEX_GAS, GO, INTELLI_FLUX_EXPORT],
      scanIntervalMs: 500,
      ensureTimeoutMs: 20_000,
      now: simNow,
    });
    await client.ready();
    await feed.start();
    await check(() => FED_PATHS.every((p) => statSync(metaPath(dir, p), { throwIfNoEntry: false })), {
      timeout: 60_000,
      interval: 200,
      name: `every PredBat entry written (fetcher output: ${fetcher.output().slice(-1_000)})`,
    });
  });

  after(async () => {
    await feed?.stop();
    await client?.close();
    await nc?.close();
    await fetcher?.stop(5_000);
    await ns?.stop();
    await sim?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('writes every entry PredBat reads; Python loads each to upstream’s values (Go: identical in PredBat’s window)', async () => {
    const entries = await Promise.all(
      FED_PATHS.map(async (path) => ({
        url: predbatUrl(path),
        path,
        json: await upstreamValue(sim.url, path),
      })),
    );
    const reads = readWithPython(dir, entries);
    let prefixOnly = 0;
    reads.forEach((r, i) => {
      const { path, json } = entries[i] as { path: string; json: string };
      assert.ok(r.present, `${path}: entry present`);
      assert.ok(r.metaOk, `${path}: .meta as PredBat writes it`);
      if (r.exact) return;
      // Rows beyond the fetcher's document window (older than 7 days) are absent; everything PredBat reads
      // (−24 h … +48 h around midnight UTC) is there, identical, newest first.
      assert.ok(r.prefix, `${path}: the fed rows are upstream's newest rows, in order`);
      const fed = JSON.parse(r.value as string) as Row[];
      const up = JSON.parse(json) as Row[];
      assert.ok(fed.length < up.length, `${path}: fewer rows only`);
      const window = predbatWindow(up, simNow());
      assert.ok(window.length > 0, `${path}: PredBat reads rows of it`);
      assert.deepEqual(predbatWindow(fed, simNow()), window, `${path}: the rows PredBat reads`);
      prefixOnly++;
    });
    const agile = reads[1] as Read;
    assert.ok(agile.exact && agile.length === 300, 'Agile unit rates: upstream’s 300 newest rows exactly');
    const go = reads[FED_PATHS.indexOf(ratesPath(GO, 'standard-unit-rates'))] as Read;
    assert.ok(
      !go.exact && (go.length ?? 0) < 300,
      'Go unit rates: the document window, not upstream’s 300 rows',
    );
    assert.ok(prefixOnly >= 1);
    // Timestamps loaded as strings (a datetime would have failed `exact`/`prefix`); spot-check one anyway.
    assert.match((JSON.parse(agile.value as string) as Row[])[0]?.valid_from ?? '', /^\d{4}-\d{2}-\d{2}T/);
  });

  it('sets created to the fetcher’s confirmation of the content, not to the time of writing', async () => {
    for (const ref of [AGILE, FLEX_E7, GO, FLUX_IMPORT]) {
      const view = client.get(ref.product, ref.tariff);
      assert.ok(view);
      const path = ratesPath(ref, ref === FLEX_E7 ? 'day-unit-rates' : 'standard-unit-rates');
      await check(() => createdOf(dir, path) === createdString(view.confirmedAt.getTime()), {
        name: `${ref.tariff}: created = confirmedAt`,
      });
      assert.ok(Date.parse(view.document.fetchedAt) <= view.confirmedAt.getTime());
    }
    // The product object: when the fetcher's URL cache fetched it upstream.
    const cached = await new NatsUrlCache({ nc, by: 'predbat-test' }).get(productPath(GO.product));
    assert.ok(cached.ok);
    assert.equal(
      createdOf(dir, productPath(GO.product)),
      createdString(Date.parse(cached.response.fetchedAt)),
    );
  });

  it('re-feeds on a confirmation: created follows the fetcher’s new check', async () => {
    const path = ratesPath(AGILE, 'standard-unit-rates');
    const before = Date.parse(createdOf(dir, path));
    sim.clock.set(new Date(simNow() + 7 * 60_000)); // 18:17, off the :00/:30 marks
    const later = simNow();
    await check(
      async () => {
        // Ask for a check now (the fetcher reads the moved clock within its 10 s refresh).
        await nc
          .request(refreshSubject(AGILE.product, AGILE.tariff), refreshBody(AGILE, 'predbat-test', true), {
            timeout: 5_000,
          })
          .catch(() => undefined);
        return Date.parse(createdOf(dir, path)) >= later;
      },
      { timeout: 40_000, interval: 1_000, name: 'created moved to the new check' },
    );
    assert.ok(Date.parse(createdOf(dir, path)) > before);
    const view = client.get(AGILE.product, AGILE.tariff);
    assert.equal(createdOf(dir, path), createdString(view?.confirmedAt.getTime() ?? 0));
  });

  it('discovers a tariff from an entry PredBat wrote, declares interest and feeds it from then on', async () => {
    assert.equal(client.get(GO_A.product, GO_A.tariff), undefined, 'nobody asked for region A before');
    const path = ratesPath(GO_A, 'standard-unit-rates');
    writeWhole(yamlPath(dir, path), '- value_exc_vat: 1.0\n');
    writeWhole(
      metaPath(dir, path),
      JSON.stringify({
        format: 'yaml',
        expiry: null,
        module: 'octopus',
        created: '2026-10-26T10:00:00.000000+00:00',
      }),
    );
    await check(() => client.get(GO_A.product, GO_A.tariff), { timeout: 30_000, name: 'Go region A held' });
    const view = client.get(GO_A.product, GO_A.tariff);
    await check(
      () =>
        statSync(metaPath(dir, ratesPath(GO_A, 'standing-charges')), { throwIfNoEntry: false }) &&
        createdOf(dir, path) === createdString(view?.confirmedAt.getTime() ?? 0),
      { timeout: 30_000, name: 'Go region A fed' },
    );
    assert.ok(feed.fedTariffs().some((t) => t.tariff === GO_A.tariff));
    assert.ok(feed.stats.discovered >= 1);
    const [read] = readWithPython(dir, [{ url: predbatUrl(path), json: await upstreamValue(sim.url, path) }]);
    assert.ok(read?.prefix && read.metaOk, 'the discovered entry now holds upstream’s rows');
  });

  it('never replaces an entry PredBat wrote more recently than the fetcher’s confirmation', async () => {
    const path = ratesPath(AGILE, 'standing-charges');
    const newer = createdString(simNow() + 60_000);
    const yaml =
      '- {value_exc_vat: 99.0, value_inc_vat: 103.95, valid_from: "2026-10-26T00:00:00Z", valid_to: null, payment_method: null}\n';
    const meta = JSON.stringify({ format: 'yaml', expiry: null, module: 'octopus', created: newer });
    writeWhole(yamlPath(dir, path), yaml);
    writeWhole(metaPath(dir, path), meta);
    const kept = feed.stats.keptNewer;
    await feed.scan();
    await check(() => feed.stats.keptNewer > kept, { name: 'feed saw the newer entry' });
    assert.equal(readFileSync(yamlPath(dir, path), 'utf8'), yaml);
    assert.equal(readFileSync(metaPath(dir, path), 'utf8'), meta);
  });

  it('replaces entries atomically: a reader never sees a partial file, no temp file is left', async () => {
    const writtenBefore = feed.stats.written;
    let reads = 0;
    let stop = false;
    // Not the entry the previous test left to PredBat (its YAML is block style, and the feed keeps it).
    const watched = FED_PATHS.filter((p) => p !== ratesPath(AGILE, 'standing-charges'));
    const reader = (async () => {
      while (!stop) {
        for (const path of watched) {
          // The feed's YAML is JSON-compatible flow style: a partial file would not parse.
          JSON.parse(readFileSync(yamlPath(dir, path), 'utf8'));
          JSON.parse(readFileSync(metaPath(dir, path), 'utf8'));
          reads++;
        }
        await new Promise((r) => setImmediate(r));
      }
    })();
    // Fresh feeds over the same directory remember nothing, so each rewrites every entry of the same age.
    let rewrites = 0;
    for (let i = 0; i < 8; i++) {
      const f = new PredbatFeed({
        dir,
        source: client,
        urlCache: new NatsUrlCache({ nc, by: 'predbat-test' }),
        logger: pino({ level: 'silent' }),
        tariffs: [AGILE, FLEX_E7, FLEX_GAS, GO, INTELLI_FLUX_EXPORT],
        now: simNow,
      });
      await f.scan();
      rewrites += f.stats.written;
    }
    stop = true;
    await reader;
    assert.ok(rewrites >= 8 * (FED_PATHS.length - 2), `rewrites: ${rewrites}`);
    assert.ok(reads > 50, `reads: ${reads}`);
    await feed.idle();
    assert.ok(feed.stats.written >= writtenBefore);
    const temps = readdirSync(dir).filter((n) => n.startsWith('.') && !foreign.has(n));
    assert.deepEqual(temps, [], 'no temp file left');
  });

  it('leaves every other file in the directory alone: bytes and mtime', () => {
    const names = readdirSync(dir);
    for (const [name, was] of foreign) {
      assert.ok(names.includes(name), `${name} still there`);
      assert.deepEqual(readFileSync(join(dir, name)), was.bytes, `${name}: bytes`);
      assert.equal(statSync(join(dir, name)).mtimeMs, was.mtimeMs, `${name}: mtime`);
    }
    const ours = new Set(
      [
        ...FED_PATHS,
        ratesPath(GO_A, 'standard-unit-rates'),
        ratesPath(GO_A, 'standing-charges'),
        productPath(GO_A.product),
      ].flatMap((p) => Object.values(entryFiles(predbatKey(predbatUrl(p))))),
    );
    const unexpected = names.filter((n) => !foreign.has(n) && !ours.has(n));
    assert.deepEqual(unexpected, [], 'only entries of fed URLs were created');
  });

  it('lets entries age honestly once the fetchers are gone', async () => {
    const path = ratesPath(GO, 'standard-unit-rates');
    const created = createdOf(dir, path);
    await fetcher.stop(5_000);
    sim.clock.set(new Date(simNow() + 40 * 60_000));
    const scans = feed.stats.scans;
    await check(() => feed.stats.scans >= scans + 2, { name: 'two more scans' });
    await feed.idle();
    assert.equal(createdOf(dir, path), created, 'created is still the last confirmation');
    const age = simNow() - Date.parse(created);
    assert.ok(
      age >= 30 * 60_000,
      `PredBat sees the entry as ${age / 60_000} min old and refreshes it itself`,
    );
  });
});
