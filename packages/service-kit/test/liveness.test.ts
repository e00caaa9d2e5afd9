import assert from 'node:assert/strict';
import { Liveness } from '../src/liveness.js';

describe('Liveness', () => {
  it('is live while heartbeats come on time, and not once one comes a stall late', () => {
    let t = 0;
    const l = new Liveness({ stallMs: 10_000, intervalMs: 1_000, now: () => t });
    for (let i = 0; i < 5; i++) {
      t += 1_000;
      l.beat();
    }
    assert.equal(l.check().ok, true);
    t += 12_000; // the loop was blocked: the next tick is 11 s late
    assert.equal(l.check().ok, false, 'no heartbeat for longer than the stall threshold');
    l.beat();
    const r = l.check();
    assert.equal(r.ok, false);
    assert.equal(r.detail.eventLoopLagMs, 11_000);
    t += 1_000;
    l.beat();
    assert.equal(l.check().ok, true, 'live again once the loop runs');
  });

  it('a declared fatal state fails liveness for good', () => {
    const l = new Liveness({ now: () => 0 });
    assert.equal(l.check().ok, true);
    l.fatal('NATS connection closed');
    l.fatal('something later');
    assert.deepEqual(l.check(), {
      ok: false,
      detail: { eventLoopLagMs: 0, sinceHeartbeatMs: 0, fatal: 'NATS connection closed' },
    });
  });

  it('notices a real blocked event loop', async () => {
    const l = new Liveness({ stallMs: 150, intervalMs: 20 }).start();
    try {
      await new Promise((r) => setTimeout(r, 60));
      assert.equal(l.check().ok, true);
      const until = performance.now() + 300;
      while (performance.now() < until) {
        // busy: no timer runs
      }
      assert.equal(l.check().ok, false, 'checked from inside the stall');
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(l.check().ok, true, 'recovered');
    } finally {
      l.stop();
    }
  });
});
