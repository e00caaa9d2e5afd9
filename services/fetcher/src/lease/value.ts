import { JetStreamApiError } from '@nats-io/jetstream';
import { type LeaseValue, SCHEMA_VERSION } from '@ratebus/schema';

/** The JSON written under the lease key for one term (the nonce is per term, not per write). */
export function leaseValue(holder: string, nonce: string, acquiredAt: Date, durationMs: number): string {
  const value: LeaseValue = {
    type: 'lease',
    schemaVersion: SCHEMA_VERSION,
    holder,
    nonce,
    acquiredAt: acquiredAt.toISOString(),
    durationMs,
  };
  return JSON.stringify(value);
}

/** The same lease value with its term, once the winning revision is known (so `nats kv get` shows it). */
export function withTerm(value: string, term: number): string {
  return JSON.stringify({ ...(JSON.parse(value) as LeaseValue), term });
}

/** Short description of an error for logs and metric labels (class name and code, no message text). */
export function errorKind(e: unknown): string {
  if (e instanceof JetStreamApiError) return `api-${e.code}`;
  if (e instanceof Error) return e.name || 'Error';
  return 'unknown';
}
