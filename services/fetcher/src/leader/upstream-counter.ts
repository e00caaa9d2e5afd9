import type { RequestEvent } from '@ratebus/octopus';

/**
 * Counts the upstream HTTP requests the worker's octopus client makes: pass `counter.hooks` to the client so
 * the schedule can log what it cost (and tests can compare it with the simulator's own count).
 */
export class UpstreamRequestCounter {
  total = 0;
  readonly byStatus: Record<string, number> = {};
  readonly hooks = {
    onRequest: (e: RequestEvent): void => {
      this.total++;
      const s = String(e.status);
      this.byStatus[s] = (this.byStatus[s] ?? 0) + 1;
    },
  };
}
