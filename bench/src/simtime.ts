import type { Simulator } from '@ratebus/octopus-sim';

/**
 * Runs callbacks at simulated times. The simulator's clock is `start + real elapsed × speed`, so a wait of
 * `d` simulated ms is `d / speed` real ms. Every pod of every design shares one of these.
 */
export class SimTime {
  readonly #sim: Simulator;
  readonly #timers = new Set<NodeJS.Timeout>();
  #stopped = false;

  constructor(sim: Simulator) {
    this.#sim = sim;
  }

  now(): number {
    return this.#sim.clock.now().getTime();
  }

  get speed(): number {
    return this.#sim.clock.speed;
  }

  /** Calls `fn` at simulated time `at` (at once when it has passed). */
  at(at: number, fn: () => void): void {
    if (this.#stopped) return;
    const realMs = Math.max(0, (at - this.now()) / this.speed);
    const t = setTimeout(() => {
      this.#timers.delete(t);
      if (!this.#stopped) fn();
    }, realMs);
    this.#timers.add(t);
  }

  /** Resolves at simulated time `at`. */
  until(at: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.#stopped) resolve();
      else this.at(at, resolve);
    });
  }

  stop(): void {
    this.#stopped = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }
}
