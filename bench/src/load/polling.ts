import { HeldLog, runFleet } from './fleet.js';
import { get, podAgent } from './http.js';
import { predbatFetch } from './predbat.js';
import { type DesignResult, type DesignRun, designResult } from './result.js';
import { MINUTE, podTariffs } from './scenario.js';

/**
 * How a pod's GET reaches upstream in one design: `fetch(caller)` asks upstream as `caller` (the simulator
 * counts callers); null is a failed request.
 */
export type PodGetter = (
  pod: number,
  url: string,
  fetch: (caller: string) => Promise<string | null>,
) => Promise<string | null>;

/**
 * Designs (a) and (b): every pod polls like PredBat every 30 minutes (phases spread over 10 s) from the
 * window's start to its end, each GET through `getter`, recording what each pod holds.
 */
export async function runPollingPods(
  run: DesignRun,
  design: string,
  getter: PodGetter,
): Promise<DesignResult> {
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
          const view = await predbatFetch(sim.url, t, (url) =>
            getter(pod, url, async (caller) => {
              const r = await get(agent, url, caller);
              return r.status === 200 ? r.body : null;
            }),
          );
          if (view) held.record(pod, t, view.newestEnd, window.nextDayEnd, time.now());
        }
      },
    });
  } finally {
    await agent.close();
  }
  return designResult(design, run, sim.stats.snapshot(), held);
}
