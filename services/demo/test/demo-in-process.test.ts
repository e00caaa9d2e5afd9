import assert from 'node:assert/strict';
import { check, processState } from '@ratebus/testkit';
import { Demo } from '../src/index.js';

describe('Demo (in process)', function () {
  this.timeout(150_000);

  it('elects a leader, brings rates to every pod, and stop() leaves no process behind', async () => {
    // A private nats-server: tests never use the shared one on 4222.
    const demo = new Demo({ env: { DEMO_NATS: 'private' }, speed: 30 });
    let screen = '';
    try {
      await demo.start();
      await check(
        async () => {
          screen = demo.render(await demo.observe());
          return demo.leaderSeen && demo.allHeld();
        },
        { timeout: 90_000, interval: 1_000, name: 'a leader and every pod holding its rates' },
      );
      assert.match(screen, /★ leader/);
      assert.ok(
        demo.events.some((e) => / fetcher-\d leads$/.test(e)),
        demo.events.join('\n'),
      );
    } finally {
      await demo.stop();
    }
    await demo.stop(); // idempotent
    const pids = [...screen.matchAll(/pid (\d+)/g)].map((m) => Number(m[1]));
    assert.equal(pids.length, 2, screen);
    for (const pid of pids) assert.equal(processState(pid), null, `pid ${pid} still running`);
  });
});
