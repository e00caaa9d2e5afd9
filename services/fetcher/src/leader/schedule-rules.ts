import { ukDate, ukDateString, ukMidnight, ukMinuteOfDay, ukWallTime } from '@ratebus/octopus';

const MARK_MS = 30 * 60_000;
/** No scheduled upstream call lands within this distance of :00 or :30 (Kraken asked clients to avoid them). */
export const MARK_GUARD_MS = 30_000;
/** Planning keeps this much further away, so a call sent a little late (budget, timers) still keeps the rule. */
const PLAN_GUARD_MS = MARK_GUARD_MS + 15_000;
/** The longest pause of scheduled calls around a mark: the planning guard on both sides, plus its margin. */
export const MARK_PAUSE_MS = 2 * PLAN_GUARD_MS + 1_000;

const offset = (t: number) => ((t % MARK_MS) + MARK_MS) % MARK_MS;

/** True when `t` is within ±30 s of a :00 or :30 boundary. */
export function nearMark(t: number, guardMs = MARK_GUARD_MS): boolean {
  const off = offset(t);
  return off < guardMs || off > MARK_MS - guardMs;
}

/**
 * Moves a planned time off the :00/:30 guard (with a margin). `earlier` moves it before the mark (routine
 * checks must stay within the 30-minute freshness tier); otherwise just past it (for "now", which cannot
 * move back).
 */
export function offMarks(t: number, earlier: boolean): number {
  if (!nearMark(t, PLAN_GUARD_MS)) return t;
  const off = offset(t);
  const mark = off < PLAN_GUARD_MS ? t - off : t + (MARK_MS - off);
  return earlier ? mark - PLAN_GUARD_MS - 1_000 : mark + PLAN_GUARD_MS + 1_000;
}

/**
 * Whether scheduled calls pause somewhere in [from, to]: the interval meets a mark's planning guard. A caller
 * waiting for a scheduled fetch (the first of a configured tariff, a retry) over such an interval may wait up
 * to {@link MARK_PAUSE_MS} longer.
 */
export function meetsMarkGuard(from: number, to: number): boolean {
  // The first mark whose guard (mark ± PLAN_GUARD_MS, open at both ends, as in nearMark) ends after `from`.
  const mark = (Math.floor((from - PLAN_GUARD_MS) / MARK_MS) + 1) * MARK_MS;
  return mark - PLAN_GUARD_MS < to;
}

/** The next routine check: cadence minus a random jitter in [0, jitter], moved off the marks. */
export function nextRoutine(now: number, cadenceMs: number, jitterMs: number, random: () => number): number {
  return offMarks(now + cadenceMs - Math.floor(random() * jitterMs), true);
}

/** Failure backoff: 1, 2, 3 … minutes by consecutive failures, capped; never shorter than Retry-After. */
export function backoffMs(failures: number, maxBackoffMs: number, retryAfterMs?: number): number {
  const linear = Math.min(Math.max(1, failures) * 60_000, maxBackoffMs);
  return retryAfterMs !== undefined && retryAfterMs > linear ? retryAfterMs : linear;
}

/** Retry step after a NATS failure (a KV request that timed out while a stream elects its leader, ...). */
export const BUS_RETRY_MS = 5_000;

/**
 * Failure backoff by cause: a failure of ours to reach NATS (an error without an `ERR_` code: JetStream
 * timeouts, no responders, a closed connection) is not upstream's fault and is retried within seconds
 * (5, 10, 15 … s, never longer than the upstream backoff); anything else gets {@link backoffMs}.
 */
export function failureDelayMs(
  error: unknown,
  failures: number,
  maxBackoffMs: number,
  retryAfterMs?: number,
): number {
  const code = (error as { code?: unknown } | null)?.code;
  const ours = typeof code === 'string' && code.startsWith('ERR_');
  if (!ours && error !== undefined) {
    return Math.min(BUS_RETRY_MS * Math.max(1, failures), backoffMs(failures, maxBackoffMs));
  }
  return backoffMs(failures, maxBackoffMs, retryAfterMs);
}

/** A product's day-ahead publication: when to watch for it and what "published" means. */
export interface PublicationWindow {
  /** UK date (`YYYY-MM-DD`) of the publication being awaited. */
  readonly day: string;
  /** Whether `now` is inside the window. */
  readonly open: boolean;
  /** Documents that cover through this instant (epoch ms) already hold the next day. */
  readonly target: number;
  /** When today's window opens (epoch ms). */
  readonly opensAt: number;
}

/**
 * Agile products (`AGILE…`, import and export) publish the next Agile day (23:00→23:00 UK) between 16:00 and
 * 20:00 UK; Tracker (`SILVER…`) publishes tomorrow's daily record around 11:00–13:00 UK. Other products
 * have no daily publication.
 */
export function publicationWindow(product: string, now: number): PublicationWindow | null {
  const kind = publicationKind(product);
  // Checked before any calendar arithmetic: most products have no publication, and there may be thousands.
  if (kind === null) return null;
  const minute = ukMinuteOfDay(now);
  const day = ukDateString(ukDate(now));
  if (kind === 'agile') {
    return {
      day,
      open: minute >= 16 * 60 && minute < 20 * 60,
      target: ukWallTime(ukDate(now, 1), 23, 0),
      opensAt: ukWallTime(ukDate(now), 16, 0),
    };
  }
  return {
    day,
    open: minute >= 11 * 60 && minute < 13 * 60,
    target: ukMidnight(now, 2),
    opensAt: ukWallTime(ukDate(now), 11, 0),
  };
}

/** The daily publication a product follows: Agile, Tracker, or none. */
export function publicationKind(product: string): 'agile' | 'tracker' | null {
  if (product.startsWith('AGILE')) return 'agile';
  if (product.startsWith('SILVER')) return 'tracker';
  return null;
}
