import type { Region } from '@ratebus/schema';
import { londonParts } from './tz.js';

/** Half an hour, ms: the Agile slot length. */
export const SLOT_MS = 30 * 60_000;
/** Agile import cap ex VAT, p/kWh (100p inc VAT). */
export const AGILE_CAP_EXC_VAT = 95;
/** "Agile half-hourly unit rates will automatically be 3.5 p/kWh lower after 1 April 2026", from the Agile day start. */
export const AGILE_2026_SHIFT_FROM_MS = Date.parse('2026-03-31T22:00:00Z');
export const AGILE_2026_SHIFT_P = -3.5;

/** Regional Agile import multiplier D and 16:00–19:00 peak adder P (docs/octopus-api.md §3.1). */
export const AGILE_IMPORT_FACTORS: Record<Region, { d: number; p: number }> = {
  A: { d: 2.1, p: 13 },
  B: { d: 2.0, p: 14 },
  C: { d: 2.0, p: 12 },
  D: { d: 2.2, p: 13 },
  E: { d: 2.1, p: 11 },
  F: { d: 2.1, p: 12 },
  G: { d: 2.1, p: 12 },
  H: { d: 2.1, p: 12 },
  J: { d: 2.2, p: 12 },
  K: { d: 2.2, p: 12 },
  L: { d: 2.3, p: 11 },
  M: { d: 2.0, p: 13 },
  N: { d: 2.1, p: 13 },
  P: { d: 2.4, p: 12 },
};

/** Agile Outgoing: `max(0, m×W + a + peak adder)`; m varies 0.93–0.97 by region (§3.2). */
export const AGILE_EXPORT_FACTORS: Record<Region, number> = {
  A: 0.95,
  B: 0.94,
  C: 0.95,
  D: 0.96,
  E: 0.95,
  F: 0.94,
  G: 0.95,
  H: 0.95,
  J: 0.96,
  K: 0.96,
  L: 0.97,
  M: 0.94,
  N: 0.93,
  P: 0.93,
};
const EXPORT_ADDER_P = 1.3;
const EXPORT_PEAK_ADDER_P = 5.93;

/** Wholesale shape by London hour, p/kWh: overnight trough, morning bump, solar dip, evening peak. */
const HOURLY_SHAPE = [
  7.2, 6.8, 6.4, 6.2, 6.2, 6.6, 7.8, 9.4, 10.2, 9.6, 8.6, 7.8, 7.2, 7.0, 7.4, 8.6, 11.0, 12.8, 12.6, 11.2,
  9.8, 9.0, 8.4, 7.8,
];

/** Deterministic value in [0, 1) from a seed, a key and a salt (murmur3 finaliser). */
export function unitHash(seed: number, key: number, salt: number): number {
  let h = Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul(key | 0, 0x85ebca6b) ^ Math.imul(salt | 0, 0xc2b2ae35);
  h ^= Math.floor(key / 4294967296);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 4294967296;
}

export function round(x: number, places: number): number {
  const f = 10 ** places;
  const r = Math.round(x * f) / f;
  return r === 0 ? 0 : r;
}

/** A London day number (days since 1970-01-01 of the local calendar date). */
function localDayNumber(p: { y: number; m: number; d: number }): number {
  return Math.floor(Date.UTC(p.y, p.m - 1, p.d) / 86_400_000);
}

interface SlotContext {
  w: number;
  peak: boolean;
}

/** Wholesale price W (p/kWh) for the half hour starting at `slotStart`, and whether it is in 16:00–19:00 local. */
export function wholesale(seed: number, slotStart: number): SlotContext {
  const p = londonParts(slotStart);
  const hour = p.h + p.mi / 60;
  const day = localDayNumber(p);
  const slot = Math.floor(slotStart / SLOT_MS);
  // Most days sit around the shape; a few tight days (low wind, high demand) spike towards the cap.
  const tight = unitHash(seed, day, 5) < 0.06 ? 1.9 : 1;
  const dayFactor = (0.6 + 0.9 * unitHash(seed, day, 1)) * tight;
  const noise = (unitHash(seed, slot, 2) - 0.5) * 2.4;
  let w = (HOURLY_SHAPE[p.h] ?? 8) * dayFactor + noise;
  // Windy or sunny days push overnight and midday prices below zero (≈3 % of slots).
  const glut = unitHash(seed, day, 3) < 0.12;
  if (glut && ((hour >= 1 && hour < 6) || (hour >= 11 && hour < 16))) w -= 4 + 4 * unitHash(seed, slot, 4);
  return { w, peak: hour >= 16 && hour < 19 };
}

/** Agile import unit rate ex VAT: `min(D×W + P, 95)`, less 3.5p from April 2026; 2 decimals. */
export function agileImportExcVat(seed: number, region: Region, slotStart: number): number {
  const { d, p } = AGILE_IMPORT_FACTORS[region];
  const { w, peak } = wholesale(seed, slotStart);
  let v = Math.min(d * w + (peak ? p : 0), AGILE_CAP_EXC_VAT);
  if (slotStart >= AGILE_2026_SHIFT_FROM_MS) v += AGILE_2026_SHIFT_P;
  return round(v, 2);
}

/** Agile Outgoing rate (no VAT): `max(0, m×W + a + a_peak)`; 2 decimals. */
export function agileExportRate(seed: number, region: Region, slotStart: number): number {
  const { w, peak } = wholesale(seed, slotStart);
  const m = AGILE_EXPORT_FACTORS[region];
  return round(Math.max(0, m * w + EXPORT_ADDER_P + (peak ? EXPORT_PEAK_ADDER_P : 0)), 2);
}

/** Mean wholesale price over a London day (for Tracker), p/kWh. */
export function dailyWholesale(seed: number, dayStart: number, dayEnd: number): number {
  let sum = 0;
  let n = 0;
  for (let t = dayStart; t < dayEnd; t += SLOT_MS) {
    sum += wholesale(seed, t).w;
    n++;
  }
  return n === 0 ? 0 : sum / n;
}
