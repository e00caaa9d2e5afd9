import { rmSync } from 'node:fs';
import { check, type ManagedProcess } from '@ratebus/testkit';

/**
 * Waits until a server process answers HTTP at `origin` (any status); when it does not within 10 s, stops it
 * and fails with the end of its output.
 */
export async function awaitListening(
  server: { readonly origin: string; stop(): Promise<void> },
  proc: ManagedProcess,
  name: string,
): Promise<void> {
  try {
    await check(
      async () => {
        if (!proc.running) throw new Error(`${name} exited: ${proc.output().slice(-2_000)}`);
        const res = await fetch(`${server.origin}/`);
        await res.arrayBuffer();
        return true;
      },
      { name: `${name} listening`, timeout: 10_000, interval: 50 },
    );
  } catch (e) {
    await server.stop();
    throw new Error(`${name} did not start: ${proc.output().slice(-2_000)}`, { cause: e });
  }
}

/** A server process on a loopback port with a temp dir of its own (config, files), removed on stop. */
export class ServerInDir {
  constructor(
    readonly dir: string,
    readonly port: number,
    readonly proc: ManagedProcess,
  ) {}

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Stops the process (SIGTERM, then SIGKILL) and removes its dir. Idempotent. */
  async stop(): Promise<void> {
    await this.proc.stop(3_000);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
