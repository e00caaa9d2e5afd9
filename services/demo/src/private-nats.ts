import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Child } from './child.js';
import { NATS_RUN_SH, NATS_SINGLE_CONF } from './paths.js';

/** How long nats-server may take to say it is ready. */
const READY_TIMEOUT_MS = 15_000;
/** SIGTERM to SIGKILL when stopping it. */
const STOP_GRACE_MS = 3_000;

export interface PrivateNats {
  /** `nats://127.0.0.1:<port>` */
  readonly url: string;
  /** Stops the server and removes its store. Idempotent. */
  stop(): Promise<void>;
}

/**
 * A nats-server of the demo's own, started as a deployment starts one (services/nats/run.sh with
 * single.conf: JetStream and the per-role users of accounts.conf) but on ephemeral ports and with its store
 * in a temp dir (single.conf's store path is relative to the working directory). `passwords` are the
 * `RATEBUS_*_PASSWORD` variables the accounts read.
 */
export async function startPrivateNats(passwords: Record<string, string>): Promise<PrivateNats> {
  const dir = mkdtempSync(join(tmpdir(), 'ratebus-demo-nats-'));
  const args = [NATS_RUN_SH, '-c', NATS_SINGLE_CONF, '-p', '-1', '-m', '-1', '-n', 'ratebus-demo'];
  const server = await Child.spawn('nats-server', 'sh', args, {
    cwd: dir,
    env: { ...process.env, ...passwords },
  });
  const stop = async () => {
    await server.stop(STOP_GRACE_MS);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const listening = await server.firstLine(/Listening for client connections on (\S+)/, READY_TIMEOUT_MS);
    await server.firstLine(/Server is ready/, READY_TIMEOUT_MS);
    return { url: `nats://${listening[1]}`, stop };
  } catch (e) {
    await stop();
    const missing = (await server.exited).code === 127; // sh: exec nats-server: not found
    throw missing
      ? new Error('nats-server is not on PATH (apt-get install -y nats-server)', { cause: e })
      : e;
  }
}
