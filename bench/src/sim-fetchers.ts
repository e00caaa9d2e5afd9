import { fileURLToPath } from 'node:url';
import { ManagedProcess } from '@ratebus/testkit';
import type { Cleanup } from './propagation/util.js';

const FETCHER = fileURLToPath(new URL('../../../services/fetcher/dist/src/main.js', import.meta.url));

/**
 * Fetcher processes (`services/fetcher`) on the simulator's clock, one per id, each stopped by `cleanup`.
 * Metrics on an ephemeral port, warnings and errors logged only.
 */
export async function startSimFetchers(
  cleanup: Cleanup,
  ids: readonly string[],
  o: { natsUrl: string; simUrl: string; config: string },
): Promise<ManagedProcess[]> {
  const out: ManagedProcess[] = [];
  for (const id of ids) {
    const f = await ManagedProcess.start({
      name: id,
      command: process.execPath,
      args: [FETCHER],
      env: {
        ...process.env,
        NATS_URL: o.natsUrl,
        OCTOPUS_BASE_URL: o.simUrl,
        OCTOPUS_SIM_CLOCK: '1',
        RATEBUS_CONFIG: o.config,
        FETCHER_ID: id,
        METRICS_PORT: '0',
        LOG_LEVEL: 'warn',
      },
    });
    out.push(f);
    cleanup.add(id, () => f.stop(5_000));
  }
  return out;
}
