import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import {
  EDGE_BLOCK_CODE,
  KrakenAuthError,
  KrakenThrottledError,
  KrakenTokens,
  type KrakenTokensOptions,
  OctopusErrorCode,
} from '@ratebus/octopus';
import { type Simulator, startSimulator } from '@ratebus/octopus-sim';
import { check } from '@ratebus/testkit';
import { pino } from 'pino';
import { admin } from './helpers.js';

const VIEWER = 'query { viewer { accounts { number } } }';
type Viewer = { viewer: { accounts: Array<{ number: string }> } };

describe('KrakenTokens against the simulator', function () {
  this.timeout(20_000);
  let sim: Simulator;
  let tokens: KrakenTokens;
  let logText = '';
  let keyN = 0;
  /** A fresh account per test, so cached tokens and cool-downs do not leak between tests. */
  let key: string;

  const ops = () => sim.stats.snapshot().byOperation;
  const mints = () => ops().obtainKrakenToken ?? 0;
  const views = () => ops().viewer ?? 0;

  function make(opts: KrakenTokensOptions = {}) {
    const sink = new Writable({
      write(chunk, _enc, done) {
        logText += String(chunk);
        done();
      },
    });
    return new KrakenTokens({
      baseUrl: sim.url,
      timeoutMs: 2_000,
      throttleCooldownMs: 300,
      // The simulator's clock issues and expires tokens, so judge their exp by it.
      now: () => sim.clock.now().getTime(),
      logger: pino({ level: 'debug' }, sink),
      ...opts,
    });
  }

  before(async () => {
    sim = await startSimulator({ port: 0, start: '2025-11-05T18:00:00Z' });
    tokens = make();
  });
  beforeEach(async () => {
    key = `sk_test_Account${++keyN}x${process.pid}`;
    await admin(sim, 'DELETE', '/_sim/kraken');
  });
  after(async () => {
    await tokens?.close();
    await sim?.close();
  });

  it('mints once per account and reuses the token while it is valid for more than 5 minutes', async () => {
    const m0 = mints();
    const [a, b] = await Promise.all([tokens.query<Viewer>(key, VIEWER), tokens.query<Viewer>(key, VIEWER)]);
    await tokens.query<Viewer>(key, VIEWER);
    assert.match(a.viewer.accounts[0]!.number, /^A-/);
    assert.deepEqual(a, b);
    assert.equal(mints() - m0, 1, 'one mint shared by concurrent callers');
    const exp = tokens.expiresAt(key);
    assert.ok(
      exp && Math.abs(exp.getTime() - (sim.clock.now().getTime() + 3_600_000)) < 60_000,
      'exp read from the JWT',
    );
  });

  it('refreshes 5 minutes before exp, not later', async () => {
    let now = sim.clock.now().getTime();
    const local = make({ now: () => now });
    try {
      const m0 = mints();
      await local.query(key, VIEWER);
      const exp = local.expiresAt(key)!.getTime();
      now = exp - 5 * 60_000 - 1_000; // 5 min 1 s before exp: still good
      await local.query(key, VIEWER);
      assert.equal(mints() - m0, 1);
      now = exp - 5 * 60_000 + 1_000; // 4 min 59 s before exp: refresh
      await local.query(key, VIEWER);
      assert.equal(mints() - m0, 2);
    } finally {
      await local.close();
    }
  });

  it('re-mints on every call when upstream tokens live less than 5 minutes', async () => {
    await admin(sim, 'POST', '/_sim/kraken', { tokenTtlSeconds: 290 });
    const m0 = mints();
    await tokens.query(key, VIEWER);
    await tokens.query(key, VIEWER);
    assert.equal(mints() - m0, 2);
  });

  for (const code of ['KT-CT-1139', 'KT-CT-1111', 'KT-CT-1143'] as const) {
    it(`on ${code} mints a new token and retries exactly once`, async () => {
      await tokens.query(key, VIEWER);
      const m0 = mints();
      const v0 = views();
      await admin(sim, 'POST', '/_sim/kraken', {
        inject: [{ errorCode: code, count: 1, operation: 'other' }],
      });
      const data = await tokens.query<Viewer>(key, VIEWER);
      assert.match(data.viewer.accounts[0]!.number, /^A-/);
      assert.equal(mints() - m0, 1);
      assert.equal(views() - v0, 2);
    });
  }

  it('gives up with KrakenAuthError when the fresh token is refused too (no retry loop)', async () => {
    await tokens.query(key, VIEWER);
    const m0 = mints();
    const v0 = views();
    await admin(sim, 'POST', '/_sim/kraken', {
      inject: [{ errorCode: 'KT-CT-1139', count: 5, operation: 'other' }],
    });
    await assert.rejects(
      tokens.query(key, VIEWER),
      (e: unknown) =>
        e instanceof KrakenAuthError &&
        e.code === OctopusErrorCode.KrakenAuth &&
        e.errorCode === 'KT-CT-1139',
    );
    assert.equal(mints() - m0, 1);
    assert.equal(views() - v0, 2);
  });

  it('recovers from a token the simulator clock has expired (KT-CT-1111) with one refresh', async () => {
    await tokens.query(key, VIEWER);
    const m0 = mints();
    sim.clock.set(new Date(sim.clock.now().getTime() + 2 * 3_600_000));
    await tokens.query(key, VIEWER);
    assert.equal(mints() - m0, 1);
  });

  it('on KT-CT-1199 throws KrakenThrottledError, cools the account down, and keeps the token', async () => {
    await tokens.query(key, VIEWER);
    const m0 = mints();
    await admin(sim, 'POST', '/_sim/kraken', {
      inject: [{ errorCode: 'KT-CT-1199', count: 1, operation: 'other' }],
    });
    await assert.rejects(
      tokens.query(key, VIEWER),
      (e: unknown) =>
        e instanceof KrakenThrottledError && e.errorCode === 'KT-CT-1199' && (e.retryAfterMs ?? 0) > 0,
    );
    const v0 = views();
    // During the cool-down calls fail fast without reaching Kraken.
    await assert.rejects(tokens.query(key, VIEWER), KrakenThrottledError);
    assert.equal(views(), v0);
    // After it, the same token works: nothing was re-minted.
    await check(() => tokens.cooldownMs(key) === 0, { name: 'cool-down over' });
    await tokens.query(key, VIEWER);
    assert.equal(mints() - m0, 0);
  });

  it('treats a CloudFront 403 page as throttling and does not re-mint', async () => {
    await tokens.query(key, VIEWER);
    const m0 = mints();
    await admin(sim, 'POST', '/_sim/kraken', { edgeBlock403: 1 });
    await assert.rejects(
      tokens.query(key, VIEWER),
      (e: unknown) => e instanceof KrakenThrottledError && e.errorCode === EDGE_BLOCK_CODE,
    );
    await check(() => tokens.cooldownMs(key) === 0, { name: 'cool-down over' });
    await tokens.query(key, VIEWER);
    assert.equal(mints() - m0, 0);
  });

  it('cools down only the throttled account', async () => {
    const other = `sk_test_Other${keyN}x${process.pid}`;
    await admin(sim, 'POST', '/_sim/kraken', {
      inject: [{ errorCode: 'KT-CT-1199', count: 1, operation: 'other' }],
    });
    await assert.rejects(tokens.query(key, VIEWER), KrakenThrottledError);
    assert.ok(tokens.cooldownMs(key) > 0);
    assert.equal(tokens.cooldownMs(other), 0);
    await tokens.query(other, VIEWER);
  });

  it('rejects an invalid API key with KrakenAuthError KT-CT-1138', async () => {
    await assert.rejects(
      tokens.query('not-a-key', VIEWER),
      (e: unknown) => e instanceof KrakenAuthError && e.errorCode === 'KT-CT-1138',
    );
  });

  it('never logs a token or an API key', () => {
    assert.ok(logText.length > 0, 'something was logged');
    assert.ok(!logText.includes('sk_test_'), 'API key in logs');
    assert.ok(!/eyJ[\w-]+\.[\w-]+\.[\w-]+/.test(logText), 'JWT in logs');
  });
});
