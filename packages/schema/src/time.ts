import { z } from 'zod';

/** Upstream slot timestamps: UTC, whole seconds, `Z` suffix (`2025-02-28T22:30:00Z`). */
const UTC_SECOND_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

/** A slot boundary as the Octopus API writes it. */
export const UtcSecond = z
  .string()
  .regex(UTC_SECOND_RE, 'expected YYYY-MM-DDTHH:MM:SSZ')
  .refine((s) => !Number.isNaN(Date.parse(s)), 'not a real date');

/** Any UTC instant written by ratebus itself (`Date.prototype.toISOString()`). */
export const UtcInstant = z.iso.datetime({ offset: false });

/** Formats a time as the Octopus API does: UTC, whole seconds, `Z`. */
export function toUtcSecond(t: Date | number): string {
  const d = typeof t === 'number' ? new Date(t) : t;
  return `${d.toISOString().slice(0, 19)}Z`;
}
