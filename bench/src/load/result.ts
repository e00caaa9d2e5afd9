import type { Simulator, StatsSnapshot } from '@ratebus/octopus-sim';
import type { SimTime } from '../simtime.js';
import { agilePairs, type HeldLog } from './fleet.js';
import { type DayWindow, fleetTariffs, HOUR } from './scenario.js';

export interface DesignRun {
  sim: Simulator;
  time: SimTime;
  pods: number;
  window: DayWindow;
}

export interface DesignResult {
  design: string;
  pods: number;
  tariffs: number;
  simulatedHours: number;
  /** Simulated seconds per real second during the run. */
  speed: number;
  upstreamRequests: number;
  /** Most requests in flight at the simulator at once. */
  peakConcurrent: number;
  requestsPerTariffPerDay: number;
  /** Minutes after publication at which pods held the next Agile day. */
  nextDayHeld: { p50: number | null; p95: number | null; max: number | null; missing: number };
  errors: number;
}

export function designResult(
  design: string,
  run: DesignRun,
  stats: StatsSnapshot,
  held: HeldLog,
): DesignResult {
  const hours = (run.window.end - run.window.start) / HOUR;
  const tariffs = fleetTariffs(run.pods).length;
  const errors = Object.entries(stats.byStatus)
    .filter(([s]) => s !== '200')
    .reduce((n, [, c]) => n + c, 0);
  return {
    design,
    pods: run.pods,
    tariffs,
    simulatedHours: hours,
    speed: run.time.speed,
    upstreamRequests: stats.total,
    peakConcurrent: stats.peakConcurrent,
    requestsPerTariffPerDay: round((stats.total / tariffs) * (24 / hours)),
    nextDayHeld: held.summary(run.window.publication, agilePairs(run.pods)),
    errors,
  };
}

const round = (n: number) => Math.round(n * 10) / 10;
