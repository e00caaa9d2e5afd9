import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { check, ManagedProcess, processState } from '@ratebus/testkit';

const MAIN = fileURLToPath(new URL('../src/main.js', import.meta.url));

/** PIDs the demo printed for its fetchers (`fetcher-N  pid P`). */
function fetcherPids(out: string): Map<string, number> {
  const pids = new Map<string, number>();
  for (const m of out.matchAll(/(fetcher-\d)\s+pid (\d+)/g)) pids.set(m[1] as string, Number(m[2]));
  return pids;
}

describe('npm run demo', function () {
  this.timeout(150_000);

  it('brings rates to every pod, hands over when the leader is killed, and stops everything on Ctrl-C', async () => {
    // A private nats-server: tests never use the shared one on 4222.
    const demo = await ManagedProcess.start({
      name: 'demo',
      command: process.execPath,
      args: [MAIN],
      env: { ...process.env, DEMO_NATS: 'private', DEMO_SPEED: '30' },
    });
    try {
      const first = await demo.waitForOutput(/(fetcher-\d) leads/, 60_000);
      const leader = first[1] as string;
      const pid = await check(() => fetcherPids(demo.output()).get(leader), {
        name: 'leader pid',
        timeout: 30_000,
      });
      // Every pod holds the Agile day after the 16:00 publication (simulated), within a minute of real time.
      await demo.waitForOutput(/pod-1 got E-1R-AGILE-24-10-01-C through \d{4}-\d{2}-\d{2}T23:00:00Z/, 60_000);
      process.kill(pid, 'SIGKILL');
      const other = leader === 'fetcher-1' ? 'fetcher-2' : 'fetcher-1';
      await demo.waitForOutput(new RegExp(`${other} leads`), 40_000);
      demo.child.kill('SIGINT'); // Ctrl-C
      const exit = await demo.exited;
      assert.equal(exit.code, 0, demo.output().slice(-3_000));
      assert.match(demo.output(), /every pod held its rates: yes/);
      // Every process the demo started is gone (the killed one was restarted under a new pid).
      const all = [...demo.output().matchAll(/pid (\d+)/g)].map((m) => Number(m[1]));
      assert.ok(all.length >= 2);
      for (const p of new Set(all)) assert.equal(processState(p), null, `pid ${p} still running`);
    } finally {
      await demo.stop();
    }
  });
});
