import assert from 'node:assert/strict';
import { check } from '@ratebus/testkit';
import { AGILE, config, type Env, startEnv, startWorker } from './leader-harness.js';

const tariffs = [{ product: AGILE, tariff: `E-1R-${AGILE}-C` }];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

describe('TermWork canary cadence', function () {
  this.timeout(90_000);
  let env: Env;
  after(async () => {
    await env?.close();
  });

  it('asks every 15 s in the first hour of the Agile window and every minute after it, never near :00/:30', async () => {
    // Publication at 18:10 UK: the canary runs through 16:40–17:25 without finding the new day.
    env = await startEnv({ start: '2026-11-27T16:40:00Z', speed: 300, publicationDelayMinutes: 130 }, 300);
    const w = await startWorker(env, config({ tariffs }), {
      client: { timeoutMs: 5_000, maxAttempts: 3 },
      worker: { random: () => 0.5 },
    });
    const until = Date.parse('2026-11-27T17:25:00Z');
    await check(() => env.sim.clock.now().getTime() >= until, {
      timeout: 30_000,
      interval: 50,
      name: '17:25',
    });
    await w.stop();
    const times = env.sim.stats
      .snapshot()
      .log.filter((l) => l.query === 'page_size=1')
      .map((l) => Date.parse(l.simAt));
    const gaps = (from: number, to: number) => {
      const out: number[] = [];
      for (let i = 1; i < times.length; i++) {
        const [a, b] = [times[i - 1] as number, times[i] as number];
        if (a >= from && b < to) out.push(b - a);
      }
      return out;
    };
    const dense = gaps(Date.parse('2026-11-27T16:41:00Z'), Date.parse('2026-11-27T17:00:00Z'));
    const normal = gaps(Date.parse('2026-11-27T17:02:00Z'), until);
    assert.ok(dense.length >= 30, `${dense.length} canary gaps before 17:00`);
    assert.ok(normal.length >= 15, `${normal.length} canary gaps after 17:00`);
    // A gap is the cadence plus the canary's own request time (at 300× a busy machine's 50 ms are 15 s of
    // simulated time): the bounds tell 15 s from 60 s, not the request time.
    assert.ok(
      median(dense) >= 15_000 && median(dense) < 40_000,
      `median gap before 17:00 ${median(dense)} ms`,
    );
    assert.ok(
      median(normal) >= 60_000 && median(normal) < 90_000,
      `median gap after 17:00 ${median(normal)} ms`,
    );
    for (const t of times) {
      const off = t % (30 * 60_000);
      assert.ok(off >= 30_000 && off <= 30 * 60_000 - 30_000, `canary at ${new Date(t).toISOString()}`);
    }
  });
});
