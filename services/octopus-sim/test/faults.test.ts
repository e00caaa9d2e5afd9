import assert from 'node:assert/strict';
import type { FaultEntry, Simulator, StatsSnapshot } from '../src/index.js';
import { AGILE, admin, getJson, type Page, startFrozen, until } from './util.js';

const RATES = `${AGILE}/standard-unit-rates/`;

describe('fault injection', () => {
  let sim: Simulator;
  before(async () => {
    sim = await startFrozen('2026-10-05T10:00:00Z');
  });
  after(() => sim.close());
  afterEach(() => admin(sim, 'DELETE', '/_sim/faults'));

  const addFault = (rule: Record<string, unknown>) =>
    admin<{ id: string }>(sim, 'POST', '/_sim/faults', rule);

  it('json500 answers 500 with the Octopus JSON error body', async () => {
    await addFault({ path: 'standard-unit-rates', kind: 'json500', count: 1 });
    const r = await getJson<Record<string, string>>(`${sim.url}${RATES}`);
    assert.equal(r.status, 500);
    assert.equal(r.body.detail, 'Server error.');
    assert.match(r.body.correlation_id ?? '', /^1-[0-9a-f]{8}-[0-9a-f]{24}$/);
    assert.match(r.body.error_id ?? '', /^[0-9a-f]{32}$/);
    assert.equal((await fetch(`${sim.url}${RATES}`)).status, 200, 'a count-1 rule is spent after one use');
  });

  it('html502 and html504 answer nginx HTML pages', async () => {
    for (const [kind, status, title] of [
      ['html502', 502, '502 Bad Gateway'],
      ['html504', 504, '504 Gateway Time-out'],
    ] as const) {
      await addFault({ path: 'standard-unit-rates', kind, count: 1 });
      const r = await fetch(`${sim.url}${RATES}`);
      assert.equal(r.status, status);
      assert.match(r.headers.get('content-type') ?? '', /^text\/html/);
      const text = await r.text();
      assert.ok(text.includes(title) && text.includes('nginx'), text);
    }
  });

  it('throttle429 answers 429 with Retry-After', async () => {
    await addFault({ path: 'standard-unit-rates', kind: 'throttle429', retryAfterSeconds: 7 });
    const r = await getJson<unknown>(`${sim.url}${RATES}`);
    assert.equal(r.status, 429);
    assert.equal(r.headers.get('retry-after'), '7');
    assert.deepEqual(r.body, { detail: 'Request was throttled. Expected available in 7 seconds.' });
  });

  it('reset drops the connection without an answer', async () => {
    await addFault({ path: 'standard-unit-rates', kind: 'reset', count: 1 });
    await assert.rejects(fetch(`${sim.url}${RATES}`), TypeError);
  });

  it('truncate sends 200 headers and half the body, then closes', async () => {
    await addFault({ path: 'standard-unit-rates', kind: 'truncate', count: 1 });
    const r = await fetch(`${sim.url}${RATES}`);
    assert.equal(r.status, 200);
    assert.ok(Number(r.headers.get('content-length')) > 0);
    await assert.rejects(r.text());
  });

  it('malformed answers 200 application/json that does not parse', async () => {
    await addFault({ path: 'standard-unit-rates', kind: 'malformed', count: 1 });
    const r = await fetch(`${sim.url}${RATES}`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /application\/json/);
    const text = await r.text();
    assert.throws(() => JSON.parse(text), SyntaxError);
  });

  it('missingSlots removes rows from the middle of a rates page and keeps the count', async () => {
    const good = await getJson(`${sim.url}${RATES}`);
    await addFault({ path: 'standard-unit-rates', kind: 'missingSlots', count: 1 });
    const bad = await getJson(`${sim.url}${RATES}`);
    assert.equal(bad.body.count, good.body.count);
    assert.ok(bad.body.results.length < good.body.results.length);
    assert.deepEqual(bad.body.results[0], good.body.results[0]);
    assert.deepEqual(bad.body.results.at(-1), good.body.results.at(-1));
    const gap = bad.body.results.some((r, i, all) => i > 0 && all[i - 1]?.valid_from !== r.valid_to);
    assert.ok(gap, 'the page has a hole');
    // Not applicable elsewhere, and not consumed there.
    await addFault({ path: '.*', kind: 'missingSlots', count: 1 });
    assert.equal((await fetch(`${sim.url}/v1/products/`)).status, 200);
    assert.equal((await admin<FaultEntry[]>(sim, 'GET', '/_sim/faults')).length, 1);
  });

  it('latency holds the answer, then answers normally', async () => {
    await addFault({ path: 'standard-unit-rates', kind: 'latency', latencyMs: 300, count: 1 });
    await admin(sim, 'POST', '/_sim/stats/reset');
    const pending = getJson(`${sim.url}${RATES}`);
    await until(async () => (await admin<StatsSnapshot>(sim, 'GET', '/_sim/stats')).inFlight === 1);
    const r = await pending;
    assert.equal(r.status, 200);
    assert.equal(r.body.results.length, 100);
  });

  it('honours probability, path patterns, listing and deletion by id', async () => {
    const never = await addFault({ path: 'standard-unit-rates', kind: 'json500', probability: 0 });
    const other = await addFault({ path: '^/v1/industry/', kind: 'json500' });
    assert.equal((await fetch(`${sim.url}${RATES}`)).status, 200);
    assert.equal((await fetch(`${sim.url}/v1/industry/grid-supply-points/`)).status, 500);
    const list = await admin<FaultEntry[]>(sim, 'GET', '/_sim/faults');
    assert.deepEqual(
      list.map((f) => f.id),
      [never.id, other.id],
    );
    await admin(sim, 'DELETE', `/_sim/faults/${other.id}`);
    assert.equal((await fetch(`${sim.url}/v1/industry/grid-supply-points/`)).status, 200);
    // Admin paths are never faulted.
    await addFault({ path: '.*', kind: 'json500' });
    assert.equal((await fetch(`${sim.url}/_sim/faults`)).status, 200);
  });

  it('rejects an invalid rule with every problem listed', async () => {
    const r = await fetch(`${sim.url}/_sim/faults`, {
      method: 'POST',
      body: JSON.stringify({ path: '(', kind: 'boom', probability: 2 }),
    });
    assert.equal(r.status, 400);
    const body = (await r.json()) as { problems: string[] };
    assert.equal(body.problems.length, 3);
  });

  it('can be driven in process', async () => {
    const id = sim.faults.add({ path: 'standard-unit-rates', kind: 'html502', count: 1 });
    assert.equal(sim.faults.list()[0]?.id, id);
    assert.equal((await fetch(`${sim.url}${RATES}`)).status, 502);
    assert.deepEqual(sim.faults.list(), []);
  });
});

describe('request accounting', () => {
  let sim: Simulator;
  before(async () => {
    sim = await startFrozen('2026-10-05T10:00:00Z');
  });
  after(() => sim.close());

  it('counts exactly the requests made, per path, caller and status, faulted ones included and /_sim/ excluded', async () => {
    await admin(sim, 'POST', '/_sim/stats/reset');
    await fetch(`${sim.url}${RATES}`, { headers: { 'x-sim-caller': 'pod-1' } });
    await fetch(`${sim.url}${RATES.slice(0, -1)}?page_size=5`, { headers: { 'x-sim-caller': 'pod-1' } });
    await fetch(`${sim.url}/v1/products/`, { headers: { 'user-agent': 'ratebus-test/1.0' } });
    await fetch(`${sim.url}/v1/products/NOPE/`, { headers: { 'user-agent': 'ratebus-test/1.0' } });
    sim.faults.add({ path: 'industry', kind: 'reset', count: 1 });
    await assert.rejects(
      fetch(`${sim.url}/v1/industry/grid-supply-points/`, { headers: { 'x-sim-caller': 'pod-2' } }),
    );
    sim.faults.add({ path: 'industry', kind: 'json500', count: 1 });
    await fetch(`${sim.url}/v1/industry/grid-supply-points/`, { headers: { 'x-sim-caller': 'pod-2' } });
    await admin(sim, 'GET', '/_sim/clock');

    const s = await admin<StatsSnapshot>(sim, 'GET', '/_sim/stats');
    assert.equal(s.total, 6);
    assert.deepEqual(s.byPath, {
      [RATES]: 2,
      '/v1/products/': 1,
      '/v1/products/NOPE/': 1,
      '/v1/industry/grid-supply-points/': 2,
    });
    assert.deepEqual(s.byCaller, { 'pod-1': 2, 'ratebus-test/1.0': 2, 'pod-2': 2 });
    await until(async () => (await admin<StatsSnapshot>(sim, 'GET', '/_sim/stats')).byStatus['0'] === 1);
    const done = await admin<StatsSnapshot>(sim, 'GET', '/_sim/stats');
    assert.deepEqual(done.byStatus, { '200': 3, '404': 1, '0': 1, '500': 1 });
    assert.equal(done.log.length, 6);
    const entry = done.log.find((e) => e.query === 'page_size=5');
    assert.ok(entry);
    assert.equal(entry.method, 'GET');
    assert.equal(entry.caller, 'pod-1');
    assert.equal(entry.simAt, '2026-10-05T10:00:00.000Z');
    assert.equal(done.inFlight, 0);

    await admin(sim, 'POST', '/_sim/stats/reset');
    const empty = sim.stats.snapshot();
    assert.equal(empty.total, 0);
    assert.deepEqual(empty.log, []);
  });

  it('records the peak of concurrent requests', async () => {
    sim.stats.reset();
    sim.faults.add({ path: 'standard-unit-rates', kind: 'latency', latencyMs: 300, count: 3 });
    const pending = [1, 2, 3].map(() => getJson<Page>(`${sim.url}${RATES}`));
    await until(async () => sim.stats.snapshot().inFlight === 3);
    await Promise.all(pending);
    const s = sim.stats.snapshot();
    assert.equal(s.peakConcurrent, 3);
    assert.equal(s.total, 3);
  });
});
