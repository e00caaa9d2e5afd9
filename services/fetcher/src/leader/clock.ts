import type { Clock } from './types.js';

/** Real time: `Date.now()` and timers. `sleep` resolves early (never rejects) on abort. */
export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal.aborted) {
        resolve();
        return;
      }
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      signal.addEventListener('abort', done, { once: true });
    }),
};

/**
 * A clock that follows a sped-up simulated clock: `now()` is read from `simNow`, and `sleep(ms)` waits
 * `ms / speed` of real time. For tests and demos that run the simulator faster than real time.
 */
export function scaledClock(simNow: () => number, speed: number): Clock {
  return {
    now: simNow,
    sleep: (ms, signal) => realClock.sleep(ms / speed, signal),
  };
}
