import { z } from 'zod';
import { NoSimulatorClockError } from './errors.js';

/** How often a followed simulator clock is read again (speed or time may be changed at run time): 10 s. */
export const DEFAULT_SIM_CLOCK_REFRESH_MS = 10_000;
/** Bound of one read of the simulator clock: 5 s. */
const READ_TIMEOUT_MS = 5_000;

const SimClockSchema = z.object({ now: z.iso.datetime({ offset: true }), speed: z.number().min(0) });

/** A time source that follows the simulator's clock: `now()` in simulated epoch ms. */
export interface FollowedClock extends Disposable {
  now(): number;
  /** Simulated seconds per real second, as last read. */
  readonly speed: number;
  close(): void;
}

/**
 * Follows the clock of `services/octopus-sim` (`GET {baseUrl}/_sim/clock`), for demos and benchmarks that
 * run the simulator faster than real time or at another date: every ratebus process then agrees on "now"
 * with the upstream it talks to. Never point this at the real API (it has no such endpoint and the first
 * read fails with {@link NoSimulatorClockError}). Reads again every `refreshMs`; a failed re-read keeps the
 * last reading. It lives here, beside the processes that run in demos, so that the upstream client
 * (`@ratebus/octopus`) knows only the real API.
 */
export async function followSimulatorClock(
  baseUrl: string,
  opts: { refreshMs?: number } = {},
): Promise<FollowedClock> {
  const url = new URL('/_sim/clock', baseUrl).toString();
  let base = await read(url);
  const timer = setInterval(() => {
    read(url).then(
      (r) => {
        base = r;
      },
      () => undefined,
    );
  }, opts.refreshMs ?? DEFAULT_SIM_CLOCK_REFRESH_MS);
  timer.unref();
  const clock: FollowedClock = {
    now: () => Math.floor(base.sim + (performance.now() - base.real) * base.speed),
    get speed() {
      return base.speed;
    },
    close: () => clearInterval(timer),
    [Symbol.dispose]: () => clearInterval(timer),
  };
  return clock;
}

async function read(url: string): Promise<{ sim: number; real: number; speed: number }> {
  const sent = performance.now();
  let res: Response;
  let text: string;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(READ_TIMEOUT_MS) });
    text = await res.text();
  } catch (cause) {
    throw new NoSimulatorClockError(url, { cause });
  }
  const received = performance.now();
  const parsed = res.status === 200 ? SimClockSchema.safeParse(safeJson(text)) : null;
  if (!parsed?.success) throw new NoSimulatorClockError(url, { status: res.status });
  // The reading was taken somewhere between send and receipt: take the middle.
  return { sim: Date.parse(parsed.data.now), real: (sent + received) / 2, speed: parsed.data.speed };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
