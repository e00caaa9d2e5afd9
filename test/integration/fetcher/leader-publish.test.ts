import assert from 'node:assert/strict';
import type { FaultKind } from '@ratebus/octopus-sim';
import {
  CheckedSchema,
  decode,
  ERROR_CODE_HEADER,
  RatesDocumentSchema,
  rateKey,
  ratesSubject,
} from '@ratebus/schema';
import { check } from '@ratebus/testkit';
import {
  agile,
  config,
  type Env,
  makeFence,
  readDoc,
  refresh as refreshOf,
  type Started,
  simCount,
  startEnv,
  startWorker,
} from './leader-harness.js';

async function refresh(env: Env, region: string, force = false) {
  const m = await refreshOf(env, agile(region), { force });
  return { msg: m, code: m.headers?.get(ERROR_CODE_HEADER) ?? null };
}

async function checkedRevision(env: Env, key: string) {
  const e = await env.buckets.checks.get(key);
  if (!e) return null;
  const d = decode(CheckedSchema, 'Checked', e.value);
  if (!d.ok) throw d.error;
  return { checked: d.value, revision: e.revision };
}

const waitResponder = (env: Env) =>
  check(async () => (await env.nc.request('ratebus.refresh.bad', '', { timeout: 500 })).headers, {
    name: 'responder up',
  });

describe('TermWork publishing', function () {
  this.timeout(90_000);

  describe('with a held document', () => {
    let env: Env;
    let w: Started;
    before(async () => {
      env = await startEnv({ start: '2026-11-27T17:05:00Z', speed: 1 });
      // Fast client timeouts so the latency fault is a timeout; two attempts per request.
      w = await startWorker(env, config(), { client: { timeoutMs: 600 } });
      await waitResponder(env);
    });
    after(async () => {
      await w?.stop();
      await env?.close();
    });

    it('writes only a Checked record when a re-fetch is unchanged', async () => {
      const key = rateKey(agile('C').product, agile('C').tariff);
      assert.equal((await refresh(env, 'C')).code, null);
      const first = await readDoc(env.buckets.rates, key);
      const c1 = await checkedRevision(env, key);
      assert.ok(first && c1);
      assert.equal(c1.checked.contentHash, first.doc.contentHash);
      const upstreamBefore = simCount(env.sim, `${agile('C').tariff}/standard-unit-rates`);
      const again = await refresh(env, 'C', true);
      assert.equal(again.code, null);
      assert.equal(
        simCount(env.sim, `${agile('C').tariff}/standard-unit-rates`),
        upstreamBefore + 1,
        'asked upstream',
      );
      const second = await readDoc(env.buckets.rates, key);
      const c2 = await checkedRevision(env, key);
      assert.equal(second?.revision, first.revision, 'rates not rewritten');
      assert.ok(c2 && c2.revision > c1.revision, 'a new Checked record');
      assert.equal(c2.checked.contentHash, first.doc.contentHash);
      assert.equal(c2.checked.term, w.fence.term);
      assert.ok(Date.parse(c2.checked.checkedAt) > Date.parse(c1.checked.checkedAt));
    });

    const faults: { kind: FaultKind; latencyMs?: number; retryAfterSeconds?: number }[] = [
      { kind: 'json500' },
      { kind: 'html502' },
      { kind: 'html504' },
      { kind: 'reset' },
      { kind: 'truncate' },
      { kind: 'malformed' },
      { kind: 'missingSlots' },
      { kind: 'throttle429', retryAfterSeconds: 1 },
      // Well beyond the 600 ms timeout: undici's headers timeout runs on a coarse (~0.5 s) timer and fires
      // 1–1.5 s after the request here, later on a busy machine.
      { kind: 'latency', latencyMs: 4_000 },
    ];
    it('keeps the last good document untouched under every simulator fault mode', async () => {
      const { product, tariff } = agile('D');
      const key = rateKey(product, tariff);
      assert.equal((await refresh(env, 'D')).code, null);
      const good = await readDoc(env.buckets.rates, key);
      assert.ok(good);
      for (const f of faults) {
        const id = env.sim.faults.add({ path: `${tariff}/standard-unit-rates`, ...f });
        try {
          const before = simCount(env.sim, `${tariff}/standard-unit-rates`);
          const failedBefore = w.metrics.fetchOutcomes.filter(
            (o) => o !== 'changed' && o !== 'unchanged',
          ).length;
          const r = await refresh(env, 'D', true);
          assert.ok(
            simCount(env.sim, `${tariff}/standard-unit-rates`) > before,
            `${f.kind}: upstream was asked`,
          );
          const after = w.metrics.fetchOutcomes.filter((o) => o !== 'changed' && o !== 'unchanged').length;
          assert.equal(after, failedBefore + 1, `${f.kind}: the fetch failed or was rejected`);
          // Stale-if-error: the requester still gets the last good document.
          assert.equal(r.code, null, `${f.kind}: answered with the held document`);
          const replied = decode(RatesDocumentSchema, 'RatesDocument', r.msg.data);
          assert.ok(replied.ok && replied.value.contentHash === good.doc.contentHash);
          const now = await readDoc(env.buckets.rates, key);
          assert.equal(now?.revision, good.revision, `${f.kind}: KV revision unchanged`);
          assert.equal(now?.doc.contentHash, good.doc.contentHash, `${f.kind}: hash unchanged`);
        } finally {
          env.sim.faults.clear();
          void id;
        }
      }
    });
  });

  describe('guards and fencing', () => {
    let env: Env;
    beforeEach(async () => {
      env = await startEnv({ start: '2026-11-27T17:05:00Z', speed: 1 });
    });
    afterEach(async () => {
      await env?.close();
    });

    it('rejects and counts a shrinking fetch, keeping the last good document', async () => {
      const w = await startWorker(env, config());
      try {
        await waitResponder(env);
        const key = rateKey(agile('H').product, agile('H').tariff);
        assert.equal((await refresh(env, 'H')).code, null);
        const good = await readDoc(env.buckets.rates, key);
        assert.equal(good?.doc.coversThrough, '2026-11-28T23:00:00Z');
        // Before 16:00 upstream has not published tomorrow yet: the answer covers less than what is held.
        env.sim.clock.set('2026-11-27T15:05:00Z');
        const r = await refresh(env, 'H', true);
        assert.equal(r.code, null);
        assert.deepEqual(w.metrics.rejectedReasons, ['shrinking']);
        const now = await readDoc(env.buckets.rates, key);
        assert.equal(now?.revision, good?.revision);
        assert.equal(now?.doc.coversThrough, '2026-11-28T23:00:00Z');
      } finally {
        await w.stop();
      }
    });

    it('writes and publishes nothing once the fence fails, and stops the term', async () => {
      const { product, tariff } = agile('J');
      const key = rateKey(product, tariff);
      const pushes: unknown[] = [];
      const sub = env.nc.subscribe(ratesSubject(product, tariff), {
        callback: (_e, m) => {
          pushes.push(m);
        },
      });
      const fence = await makeFence(env);
      fence.expire(); // renew deadline passed: the signal has not fired yet
      const w = await startWorker(env, config({ tariffs: [{ product, tariff }] }), { fence });
      await check(() => w.metrics.fetchOutcomes.length > 0, { name: 'a fetch finished' });
      assert.equal(
        simCount(env.sim, `${tariff}/standard-unit-rates`),
        0,
        'a stale term never reaches upstream',
      );
      await w.done; // the worker stopped its term by itself
      assert.equal(await env.buckets.rates.get(key), null);
      assert.equal(await env.buckets.checks.get(key), null);
      await env.nc.flush();
      assert.equal(pushes.length, 0);
      sub.unsubscribe();
      await w.stop();

      const aborted = await makeFence(env);
      aborted.depose();
      const before = env.sim.stats.snapshot().total;
      const w2 = await startWorker(env, config({ tariffs: [{ product, tariff }] }), { fence: aborted });
      await w2.done;
      assert.equal(env.sim.stats.snapshot().total, before, 'an aborted fence does no work');
      await w2.stop();
    });

    it('sends no further upstream request once the fence fails in the middle of a fetch', async () => {
      const { product, tariff } = agile('L');
      // The unit rates answer slowly: the fence fails while that request is in flight (a pause, a passed
      // renew deadline whose timer has not run yet), so the standing charges must never be asked.
      env.sim.faults.add({ path: `${tariff}/standard-unit-rates/$`, kind: 'latency', latencyMs: 800 });
      const fence = await makeFence(env);
      const w = await startWorker(env, config({ tariffs: [{ product, tariff }] }), { fence });
      try {
        await check(() => env.sim.stats.snapshot().inFlight > 0, { name: 'unit rates in flight' });
        fence.expire();
        await check(() => w.metrics.fetchOutcomes.length > 0, { name: 'the fetch ended' });
        assert.equal(simCount(env.sim, `${tariff}/standard-unit-rates`), 1);
        assert.equal(
          simCount(env.sim, `${tariff}/standing-charges`),
          0,
          'nothing sent after the fence failed',
        );
        assert.equal(await env.buckets.rates.get(rateKey(product, tariff)), null);
        await w.done; // the term ended by itself
      } finally {
        await w.stop();
      }
    });

    it('keeps a longer stored document that its own load missed when a shorter fetch meets it in a CAS conflict', async () => {
      const { product, tariff } = agile('M');
      const key = rateKey(product, tariff);
      const first = await startWorker(env, config());
      await waitResponder(env);
      assert.equal((await refresh(env, 'M')).code, null);
      const long = await env.buckets.rates.get(key);
      assert.equal((await readDoc(env.buckets.rates, key))?.doc.coversThrough, '2026-11-28T23:00:00Z');
      await first.stop();

      // The next term starts without it (its start-up load failed, or read a replica that lacked it) ...
      await env.buckets.rates.delete(key);
      env.sim.clock.set('2026-11-27T15:05:00Z'); // before 16:00: upstream has not published tomorrow yet
      const w = await startWorker(env, config());
      try {
        await waitResponder(env); // answers once the load is done
        // ... and the stored document is back when its shorter fetch is written: the create loses its CAS.
        const back = await env.buckets.rates.put(key, long?.value ?? new Uint8Array());
        const r = await refresh(env, 'M', true);
        assert.equal(r.code, null);
        const now = await readDoc(env.buckets.rates, key);
        assert.equal(now?.revision, back, 'the stored document was not replaced');
        assert.equal(now?.doc.coversThrough, '2026-11-28T23:00:00Z');
        assert.ok(w.metrics.rejectedReasons.includes('shrinking'), String(w.metrics.rejectedReasons));
        const checked = await checkedRevision(env, key);
        assert.notEqual(
          checked?.checked.coversThrough,
          '2026-11-27T23:00:00Z',
          'the shorter one is not confirmed',
        );
      } finally {
        await w.stop();
      }
    });

    it('does not write its Checked record over one of a newer term, and stops the term', async () => {
      const w = await startWorker(env, config());
      await waitResponder(env);
      const { product, tariff } = agile('N');
      const key = rateKey(product, tariff);
      assert.equal((await refresh(env, 'N')).code, null);
      const ours = await checkedRevision(env, key);
      assert.ok(ours);
      // A writer of a newer term confirmed the same content since: a newer fetcher, or a last-resort pod
      // whose lock was won after this fetcher's election.
      const newer = { ...ours.checked, term: w.fence.term + 1_000 };
      const newerRev = await env.buckets.checks.update(key, JSON.stringify(newer), ours.revision);
      // Unchanged content: the re-fetch writes only a Checked record.
      const r = await refresh(env, 'N', true);
      assert.equal(r.code, 'NOT_LEADER');
      await w.done; // stopped without the election telling it
      const now = await checkedRevision(env, key);
      assert.equal(now?.revision, newerRev);
      assert.equal(now?.checked.term, w.fence.term + 1_000);
      await w.stop();
    });

    it('stops when the store holds a document of a newer term', async () => {
      env.sim.clock.set('2026-11-27T13:05:00Z');
      const w = await startWorker(env, config());
      await waitResponder(env);
      const { product, tariff } = agile('K');
      const key = rateKey(product, tariff);
      assert.equal((await refresh(env, 'K')).code, null);
      const ours = await readDoc(env.buckets.rates, key);
      assert.ok(ours);
      // A newer leader rewrote the key (same content, newer term).
      const newer = { ...ours.doc, term: w.fence.term + 1_000 };
      const newerRev = await env.buckets.rates.update(key, JSON.stringify(newer), ours.revision);
      // After publication the content changes: our CAS on the old revision loses, the re-read shows the newer term.
      env.sim.clock.set('2026-11-27T17:05:00Z');
      const r = await refresh(env, 'K', true);
      assert.equal(r.code, 'NOT_LEADER');
      await w.done; // stopped without the election telling it
      const now = await readDoc(env.buckets.rates, key);
      assert.equal(now?.revision, newerRev);
      assert.equal(now?.doc.term, w.fence.term + 1_000);
      await w.stop();
    });
  });
});
