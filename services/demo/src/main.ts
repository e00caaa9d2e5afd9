/**
 * `npm run demo`: the whole of ratebus on one machine, embedded defaults, no internet. NATS (the one on
 * 127.0.0.1:4222, or a private nats-server with per-role users), the Octopus simulator with its clock just
 * before the Agile publication, two fetchers, the gateway and a few pods, with a live status. Ctrl-C stops
 * everything. `DEMO_DURATION_S=N` stops after N seconds and exits 0 only if every pod held its rates.
 * The work is in `Demo` (demo.ts) and `showUntil` (screen.ts); this file only wires them to the process.
 */
import { DEFAULT_SPEED, Demo } from './demo.js';
import { showUntil } from './screen.js';

const out = (s: string) => process.stdout.write(`${s}\n`);

/** `DEMO_SPEED` and `DEMO_DURATION_S`, or null when either is not a positive number. */
function readSettings(env: NodeJS.ProcessEnv): { speed: number; durationS: number | null } | null {
  const speed = Number(env.DEMO_SPEED ?? DEFAULT_SPEED);
  const durationS = env.DEMO_DURATION_S ? Number(env.DEMO_DURATION_S) : null;
  return speed > 0 && (durationS === null || durationS > 0) ? { speed, durationS } : null;
}

/** Resolves on the first SIGINT (Ctrl-C) or SIGTERM. */
function interrupted(): Promise<void> {
  return new Promise((resolve) => {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => resolve());
  });
}

async function main(): Promise<number> {
  const settings = readSettings(process.env);
  if (!settings) {
    out('DEMO_SPEED and DEMO_DURATION_S must be positive numbers');
    return 2;
  }
  const demo = new Demo({ env: process.env, speed: settings.speed, say: out });
  // Whatever happens, no child outlives the demo.
  process.on('exit', () => demo.kill());
  try {
    await demo.start();
    const tty = process.stdout.isTTY === true;
    await showUntil(demo, { durationS: settings.durationS, interrupted: interrupted(), tty, out });
    const yes = (b: boolean) => (b ? 'yes' : 'no');
    const ok = demo.allHeld() && demo.leaderSeen;
    out(
      `\nratebus demo: stopping (every pod held its rates: ${yes(demo.allHeld())}; a leader was seen: ${yes(demo.leaderSeen)})`,
    );
    await demo.stop();
    out('ratebus demo: stopped; no process left behind');
    return ok || settings.durationS === null ? 0 : 1;
  } catch (e) {
    out(`ratebus demo failed: ${e instanceof Error ? e.message : String(e)}`);
    await demo.stop();
    return 1;
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`ratebus demo failed: ${String(e)}\n`);
    process.exit(1);
  },
);
