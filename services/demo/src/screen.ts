import { setTimeout as sleep } from 'node:timers/promises';
import type { Demo } from './demo.js';

/** A terminal is redrawn this often; other output gets a new screen every `PRINT_EVERY_MS`. */
const REDRAW_MS = 1_000;
const POLL_MS = 2_000;
const PRINT_EVERY_MS = 10_000;

export interface ScreenOptions {
  /** Stop after this many seconds; null: until `interrupted`. */
  durationS: number | null;
  /** Resolves on Ctrl-C (or SIGTERM). */
  interrupted: Promise<void>;
  /** Redraw in place (a terminal) or print a screen now and then (a log). */
  tty: boolean;
  out: (text: string) => void;
}

/** Shows the demo's status until interrupted or the duration has passed. */
export async function showUntil(
  demo: Demo,
  { durationS, interrupted, tty, out }: ScreenOptions,
): Promise<void> {
  let done = false;
  void interrupted.then(() => {
    done = true;
  });
  const began = performance.now();
  let lastPrint = 0;
  while (!done) {
    const screen = demo.render(await demo.observe());
    const elapsed = performance.now() - began;
    if (tty) out(`\x1b[2J\x1b[H${screen}`);
    else if (elapsed - lastPrint >= PRINT_EVERY_MS || lastPrint === 0) {
      out(`\n${screen}`);
      lastPrint = elapsed || 1;
    }
    if (durationS !== null && elapsed >= durationS * 1000) break;
    await Promise.race([sleep(tty ? REDRAW_MS : POLL_MS), interrupted]);
  }
}
