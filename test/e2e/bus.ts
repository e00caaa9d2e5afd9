import { execFile } from 'node:child_process';
import { type KV, Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { MARK_PAUSE_MS, meetsMarkGuard } from '@ratebus/fetcher';
import {
  BUCKETS,
  type Checked,
  CheckedSchema,
  decodeOrThrow,
  LEASE_KEY,
  type RatesDocument,
  RatesDocumentSchema,
  rateKey,
  type TariffRef,
} from '@ratebus/schema';
import { check } from '@ratebus/testkit';
import { CLI } from './topology.js';

/**
 * Reading the bus the way an operator does (inspector user), plus the small pieces the e2e tests share:
 * permission-violation matchers, the simulator's admin API, the `ratebus` CLI.
 */

/**
 * Binds a bucket with direct gets: after a stream-leader failover on 2.9.10, reads through the stream leader
 * (MSG.GET) were seen to time out for over 20 s while direct gets from the replicas answered.
 */
export function openKv(nc: NatsConnection, bucket: string): Promise<KV> {
  return check(() => new Kvm(nc).open(bucket, { allow_direct: true }), { name: `bucket ${bucket}` });
}

/**
 * A wait for the fetchers' scheduled work (a configured tariff's first fetch), lengthened when it meets the
 * pause of scheduled calls around :00/:30 (services/fetcher/README.md): a suite started at 12:29:20 sees the
 * first fetch at 12:30:46.
 */
export function scheduledWaitMs(timeoutMs: number, now = Date.now()): number {
  return meetsMarkGuard(now, now + timeoutMs) ? timeoutMs + MARK_PAUSE_MS : timeoutMs;
}

/** The rates document stored for a tariff, or undefined. */
export async function storedDoc(rates: KV, t: TariffRef): Promise<RatesDocument | undefined> {
  const e = await rates.get(rateKey(t.product, t.tariff));
  if (e?.operation !== 'PUT') return undefined;
  return decodeOrThrow(RatesDocumentSchema, 'RatesDocument', e.value);
}

/** The Checked record stored for a tariff, or undefined. */
export async function storedCheck(checks: KV, t: TariffRef): Promise<Checked | undefined> {
  const e = await checks.get(rateKey(t.product, t.tariff));
  if (e?.operation !== 'PUT') return undefined;
  return decodeOrThrow(CheckedSchema, 'Checked', e.value);
}

export interface Leader {
  holder: string;
  /** The fencing term: the key's create revision (the value carries it from the first renew on). */
  term: number;
}

/** Who holds the fetcher lease now (needs the fetcher or inspector user), or undefined. */
export async function currentLeader(lease: KV): Promise<Leader | undefined> {
  const e = await lease.get(LEASE_KEY);
  if (e?.operation !== 'PUT') return undefined;
  const v = JSON.parse(e.string()) as { holder: string; term?: number };
  return { holder: v.holder, term: v.term ?? e.revision };
}

/** Opens the lease bucket as given and waits until someone leads. */
export async function waitForLeader(nc: NatsConnection, timeout: number): Promise<Leader> {
  const lease = await openKv(nc, BUCKETS.lease);
  return check(() => currentLeader(lease), { timeout, interval: 200, name: 'a lease holder' });
}

/** GET/POST a simulator admin endpoint (`/_sim/...`) as JSON. */
export async function simAdmin<T>(simUrl: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${simUrl}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `ratebus <args>` to completion with exactly `env` (no inherited NATS settings). */
export function runCli(args: readonly string[], env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CLI, ...args], { env, timeout: 30_000 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') reject(error);
      else resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
    });
  });
}
