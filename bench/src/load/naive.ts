import { HeldLog, runFleet } from './fleet.js';
import { get, podAgent } from './http.js';
import { predbatFetch } from './predbat.js';
import { type DesignResult, type DesignRun, designResult } from './result.js';
import { MINUTE, podTariffs } from './scenario.js';

/** Design (a): every pod polls upstream itself every 30 minutes, as PredBat does. */
export async function runNaive(run: DesignRun): Promise<DesignResult> {
  const { sim, time, pods, window } = run;
  const agent = podAgent();
  const held = new HeldLog();
  sim.stats.reset();
  try {
    await runFleet({
      time,
      pods,
      start: window.start,
      end: window.end,
      periodMs: 30 * MINUTE,
      spreadMs: 10_000,
      poll: async (pod) => {
        for (const t of podTariffs(pod)) {
          const view = await predbatFetch(sim.url, t, async (url) => {
            const r = await get(agent, url, `pod-${pod}`);
            return r.status === 200 ? r.body : null;
          });
          if (view) held.record(pod, t, view.newestEnd, window.nextDayEnd, time.now());
        }
      },
    });
  } finally {
    await agent.close();
  }
  return designResult('naive polling', run, sim.stats.snapshot(), held);
}
