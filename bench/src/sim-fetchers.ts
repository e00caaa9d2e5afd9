import { type FetcherProcess, startFetcher } from '@ratebus/fixtures';
import type { Cleanup } from './propagation/util.js';

/**
 * Fetcher processes (`services/fetcher`) on the simulator's clock, one per id, each stopped by `cleanup`.
 * Metrics on an ephemeral port, warnings and errors logged only.
 */
export async function startSimFetchers(
  cleanup: Cleanup,
  ids: readonly string[],
  o: { natsUrl: string; simUrl: string; config: string },
): Promise<FetcherProcess[]> {
  const out: FetcherProcess[] = [];
  for (const id of ids) {
    const f = await startFetcher({
      id,
      natsUrl: o.natsUrl,
      upstream: o.simUrl,
      simClock: true,
      config: o.config,
      logLevel: 'warn',
    });
    out.push(f);
    cleanup.add(id, () => f.stop(5_000));
  }
  return out;
}
