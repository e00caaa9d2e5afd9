import type { Logger } from 'pino';
import { Catalogue } from './catalogue.js';
import { SimulatedClock } from './clock.js';
import { FaultTable } from './faults.js';
import { Kraken } from './kraken.js';
import type { ResolvedOptions } from './options.js';
import { Publication } from './publication.js';
import { DEFAULT_SWITCHES, type RestContext, type SimSwitches } from './rest.js';
import { StatsRecorder } from './stats.js';

/** Everything one simulator holds; the admin routes change it, the API answers from it. */
export interface SimState {
  readonly clock: SimulatedClock;
  readonly publication: Publication;
  readonly switches: SimSwitches;
  readonly faults: FaultTable;
  readonly stats: StatsRecorder;
  readonly kraken: Kraken;
  /** What the REST routes read; `baseUrl` is set once the server listens. */
  readonly rest: RestContext & { baseUrl: string };
  readonly log: Logger;
  /** Aborted when the simulator closes: requests held back by faults give up. */
  readonly lifetime: AbortController;
}

export function createState(options: ResolvedOptions, log: Logger): SimState {
  const clock = new SimulatedClock(startMs(options.start), options.speed);
  const publication = new Publication(options.publicationDelayMinutes);
  const switches: SimSwitches = { ...DEFAULT_SWITCHES };
  setSwitches(switches, options.switches ?? {});
  return {
    clock,
    publication,
    switches,
    faults: new FaultTable(),
    stats: new StatsRecorder(),
    kraken: new Kraken(),
    rest: {
      catalogue: new Catalogue(options.seed, publication),
      switches,
      now: () => clock.nowMs(),
      baseUrl: '',
    },
    log,
    lifetime: new AbortController(),
  };
}

/** Sets the switches given, leaves the others. */
export function setSwitches(
  switches: SimSwitches,
  change: { [K in keyof SimSwitches]?: SimSwitches[K] | undefined },
): void {
  for (const [k, v] of Object.entries(change)) if (v !== undefined) switches[k as keyof SimSwitches] = v;
}

function startMs(start: ResolvedOptions['start']): number {
  if (start === undefined) return Date.now();
  return typeof start === 'string' ? Date.parse(start) : start.getTime();
}
