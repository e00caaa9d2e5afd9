import { JetStreamApiCodes, JetStreamApiError, jetstream } from '@nats-io/jetstream';
import { type KV, type KvEntry, Kvm } from '@nats-io/kv';
import {
  AuthorizationError,
  connect,
  type NatsConnection,
  PermissionViolationError,
} from '@nats-io/transport-node';
import { findCause } from '@ratebus/bus';
import { type ClientLogger, RateClient } from '@ratebus/client';
import { BUCKETS, decode, LEASE_KEY, type LeaseValue, LeaseValueSchema } from '@ratebus/schema';
import { type ConnectionSettings, type ConnectMode, natsOptions } from './connection.js';
import { ConnectError, NotReadyError } from './errors.js';

/** Opens the NATS connection; maps refusals and unreachable servers to {@link ConnectError}. */
export async function openConnection(s: ConnectionSettings, mode: ConnectMode): Promise<NatsConnection> {
  try {
    return await connect(natsOptions(s, mode));
  } catch (e) {
    const who = s.auth.kind === 'user' ? ` as ${s.auth.user}` : '';
    if (findCause(e, AuthorizationError)) {
      throw new ConnectError(s.servers, `login${who} refused (check the user and password)`, { cause: e });
    }
    throw new ConnectError(s.servers, e instanceof Error ? e.message : String(e), { cause: e });
  }
}

export const isPermissionDenied = (e: unknown): boolean => findCause(e, PermissionViolationError) !== null;

function isStreamMissing(e: unknown): boolean {
  const api = findCause(e, JetStreamApiError);
  return api !== null && api.code === JetStreamApiCodes.StreamNotFound;
}

/** What the lease says about the leader. */
export type LeaseState =
  | {
      readonly kind: 'held';
      readonly lease: LeaseValue;
      readonly revision: number;
      /** Server time of the last write (the last renew). */
      readonly renewedAt: Date;
    }
  | { readonly kind: 'none'; readonly reason: string }
  | { readonly kind: 'forbidden' }
  | { readonly kind: 'invalid'; readonly revision: number };

/** Reads the lease key. Pods and the gateway may not (permission violation) → `forbidden`. */
export async function readLease(nc: NatsConnection, timeoutMs: number): Promise<LeaseState> {
  let entry: KvEntry | null;
  try {
    const kv = await new Kvm(jetstream(nc, { timeout: timeoutMs })).open(BUCKETS.lease);
    entry = await kv.get(LEASE_KEY);
  } catch (e) {
    if (isPermissionDenied(e)) return { kind: 'forbidden' };
    if (isStreamMissing(e)) return { kind: 'none', reason: 'no lease bucket: no fetcher has started' };
    throw e;
  }
  if (!entry) return { kind: 'none', reason: 'no fetcher holds the lease' };
  if (entry.operation !== 'PUT') return { kind: 'none', reason: 'the last leader released the lease' };
  const r = decode(LeaseValueSchema, 'LeaseValue', entry.value);
  return r.ok
    ? { kind: 'held', lease: r.value, revision: entry.revision, renewedAt: entry.created }
    : { kind: 'invalid', revision: entry.revision };
}

/**
 * Reads `keys` of a bucket with one get each (no consumers: pods may read but not list
 * `ratebus-interest`). Null when the bucket is missing or this user may not read it.
 */
export async function readKeys(
  nc: NatsConnection,
  bucket: string,
  keys: readonly string[],
  timeoutMs: number,
): Promise<Map<string, KvEntry> | null> {
  let kv: KV;
  try {
    kv = await new Kvm(jetstream(nc, { timeout: timeoutMs })).open(bucket);
  } catch (e) {
    if (isPermissionDenied(e) || isStreamMissing(e)) return null;
    throw e;
  }
  const out = new Map<string, KvEntry>();
  try {
    for (let i = 0; i < keys.length; i += GET_BATCH) {
      const batch = keys.slice(i, i + GET_BATCH);
      const entries = await Promise.all(batch.map((k) => kv.get(k)));
      entries.forEach((entry, j) => {
        if (entry && entry.operation === 'PUT') out.set(batch[j] as string, entry);
      });
    }
  } catch (e) {
    if (isPermissionDenied(e) || isStreamMissing(e)) return null;
    throw e;
  }
  return out;
}

/** Gets in flight at once while reading many keys. */
const GET_BATCH = 64;

/** Keeps the last warning the client logged, to explain a `ready()` that never came. */
class LastProblem implements ClientLogger {
  last: string | null = null;
  debug(): void {}
  info(): void {}
  warn(obj: object, msg?: string): void {
    const err = (obj as { err?: { message?: string } }).err;
    this.last = [msg, err?.message].filter(Boolean).join(': ') || null;
  }
  error(obj: object, msg?: string): void {
    this.warn(obj, msg);
  }
}

/**
 * A {@link RateClient} on `nc` (so the user's inbox prefix applies), once it has listed the rates and
 * checks buckets. Throws {@link NotReadyError} after `timeoutMs` (buckets missing, or not readable).
 */
export async function openRates(nc: NatsConnection, name: string, timeoutMs: number): Promise<RateClient> {
  const problems = new LastProblem();
  const client = await RateClient.connect({ nc, name, logger: problems });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((r) => {
    timer = setTimeout(() => r('timeout'), timeoutMs);
  });
  try {
    const got = await Promise.race([client.ready(), timeout]);
    if (got === 'timeout') throw new NotReadyError(timeoutMs, problems.last);
    return client;
  } catch (e) {
    await client.close();
    throw e;
  } finally {
    clearTimeout(timer);
  }
}
