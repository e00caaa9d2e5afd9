import { startSimulator } from '@ratebus/octopus-sim';
import { runFileCache } from '../load/filecache.js';
import { runNaive } from '../load/naive.js';
import { runRatebus } from '../load/ratebus.js';
import type { DesignResult, DesignRun } from '../load/result.js';
import { dayWindow } from '../load/scenario.js';
import { loadTable } from '../report.js';
import { SimTime } from '../simtime.js';
import type { Suite } from '../suite.js';

/** Agile D+1 appears this long after 16:00 UK (the simulator's publication delay). */
const PUBLICATION_DELAY_MIN = 7;

type Design = (run: DesignRun) => Promise<DesignResult>;
const DESIGNS: Array<[string, Design]> = [
  ['naive', runNaive],
  ['filecache', runFileCache],
  ['ratebus', runRatebus],
];

/**
 * Upstream load over a simulated day for 10, 100 and 1,000 pods, the same tariffs, three designs, one
 * simulator per run (fresh stats), in one process run.
 */
export const loadSuite: Suite = async ({ quick, log }) => {
  const podCounts = quick ? [10] : [10, 100, 1000];
  const results: DesignResult[] = [];
  for (const pods of podCounts) {
    for (const [name, design] of DESIGNS) {
      const window = dayWindow(quick, PUBLICATION_DELAY_MIN);
      // Fast enough to finish, slow enough that a burst of requests stays within a simulated minute or so.
      const speed = quick ? 720 : pods >= 1000 ? 360 : 720;
      const sim = await startSimulator({
        port: 0,
        start: new Date(window.start),
        speed,
        publicationDelayMinutes: PUBLICATION_DELAY_MIN,
      });
      const time = new SimTime(sim);
      const began = performance.now();
      try {
        const r = await design({ sim, time, pods, window });
        results.push(r);
        log(
          `${name} pods=${pods} speed=${speed}: ${r.upstreamRequests} requests (${((performance.now() - began) / 1000).toFixed(0)} s)`,
        );
      } finally {
        time.stop();
        await sim.close();
      }
    }
  }
  const w = dayWindow(quick, PUBLICATION_DELAY_MIN);
  const hours = (w.end - w.start) / 3_600_000;
  const markdown = [
    `Simulated ${hours} h (${new Date(w.start).toISOString().slice(0, 16)}Z onward, Agile D+1 published 16:${String(PUBLICATION_DELAY_MIN).padStart(2, '0')} UK).`,
    'Pods start within 10 s of each other (a fleet deploy), each holding one import tariff (14 Agile regions or Go) and, for every third pod, Agile Outgoing: 20 tariffs in all.',
    '**naive**: every pod polls PredBat-style every 30 min (bare URL, ≤ 3 pages of 100, plus standing charges).',
    '**file cache**: 50 pods per host share a directory; 30/35-minute stale-while-revalidate, `O_CREAT|O_EXCL` lock per URL.',
    '**ratebus**: two fetchers (one leads) and every pod a `RateClient`; pods never call upstream.',
    '"Next day held" is the time from publication until each pod held rows through the end of the next Agile day.',
    'The clock runs ×360–×720 (column "clock"), so one real millisecond is 0.36–0.72 simulated seconds: fetch and event-loop times are stretched, which limits the resolution of "next day held" to about a simulated minute; request counts are unaffected.',
    '',
    loadTable(results),
  ].join('\n');
  return { title: 'Upstream load over a simulated day', markdown, data: results };
};
