/**
 * Simulated time: `start + real elapsed × speed`. Setting the time or the speed re-bases it, so changes take
 * effect from the moment they are made and never jump backwards by themselves.
 */
export interface SimClock {
  /** Current simulated time. */
  now(): Date;
  /** Jumps to `when` (ISO string or Date); the speed is kept. */
  set(when: string | Date): void;
  /** Simulated seconds per real second; 0 freezes the clock. */
  setSpeed(speed: number): void;
  readonly speed: number;
}

export class SimulatedClock implements SimClock {
  #baseSim: number;
  #baseReal: number;
  #speed: number;
  readonly #realNow: () => number;

  constructor(start: number, speed: number, realNow: () => number = Date.now) {
    this.#realNow = realNow;
    this.#baseSim = start;
    this.#baseReal = realNow();
    this.#speed = checkSpeed(speed);
  }

  get speed(): number {
    return this.#speed;
  }

  nowMs(): number {
    return Math.floor(this.#baseSim + (this.#realNow() - this.#baseReal) * this.#speed);
  }

  now(): Date {
    return new Date(this.nowMs());
  }

  set(when: string | Date): void {
    const t = typeof when === 'string' ? Date.parse(when) : when.getTime();
    if (!Number.isFinite(t)) throw new RangeError(`not a time: ${String(when)}`);
    this.#baseSim = t;
    this.#baseReal = this.#realNow();
  }

  setSpeed(speed: number): void {
    const checked = checkSpeed(speed);
    this.#baseSim = this.nowMs();
    this.#baseReal = this.#realNow();
    this.#speed = checked;
  }
}

function checkSpeed(speed: number): number {
  if (!Number.isFinite(speed) || speed < 0)
    throw new RangeError(`speed must be a finite number ≥ 0: ${speed}`);
  return speed;
}
