import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Fence } from '@ratebus/bus';
import type { OctopusClient } from '@ratebus/octopus';
import type { RatebusConfig } from '@ratebus/schema';
import type { Logger } from 'pino';

/** Proof of leadership handed to the worker for one term: the lease core's fence (`@ratebus/bus`). */
export type { Fence };

export interface Buckets {
  rates: KV;
  checks: KV;
  interest: KV;
  urls: KV;
}
/** Scheduling time source: real time by default; tests may follow the simulator's clock. */
export interface Clock {
  now(): number; // epoch ms (possibly simulated)
  sleep(ms: number, signal: AbortSignal): Promise<void>; // ms of clock time; rejects/returns early on abort
}
/** Why the leader refused what a pod asked (the `reason` label of `ratebus_refusals_total`). */
export type RefusalReason =
  | 'tracked-limit' // a new tariff beyond limits.maxTrackedTariffs
  | 'refresh-tariff-rate' // a refresh that would fetch one tariff again within limits.refreshTariffIntervalMs
  | 'refresh-rate' // a refresh beyond limits.refreshUpstreamPerMinute
  | 'url-form' // a URL path outside the allow-list
  | 'url-query' // a query parameter or value outside the allow-list
  | 'url-rate' // a URL cache miss beyond limits.urlMissesPerMinute
  | 'url-too-large'; // an upstream answer larger than limits.urlMaxValueBytes

/**
 * Interest entries no honest component writes: `deleted`, an explicit delete of live interest (pods only
 * create and update their entries; expiry leaves no marker), `invalid`, a value that is not an interest
 * record. Pods share one NATS user, so neither can be refused; both are ignored, and the owners' renewal
 * writes the entry again.
 */
export type InterestAnomaly = 'deleted' | 'invalid';

export interface TermMetrics {
  fetchStarted?(
    product: string,
    tariff: string,
    reason: 'routine' | 'publication' | 'refresh' | 'interest',
  ): void;
  fetchFinished?(outcome: 'changed' | 'unchanged' | 'rejected' | 'failed', seconds: number): void;
  published?(product: string, tariff: string): void;
  rejected?(reason: string): void; // empty | partial | non-contiguous | shrinking | invalid
  canary?(product: string, outcome: 'new-day' | 'not-yet' | 'failed'): void;
  refreshRequest?(outcome: 'hit' | 'fetched' | 'not-found' | 'error' | 'bad-request' | 'refused'): void;
  urlCache?(outcome: 'hit' | 'miss' | 'forbidden' | 'refused' | 'error'): void;
  trackedTariffs?(n: number): void;
  refused?(reason: RefusalReason): void;
  /** An interest entry no honest pod writes (the `kind` label of `ratebus_interest_anomalies_total`). */
  interestAnomaly?(kind: InterestAnomaly): void;
}
export interface TermDeps {
  nc: NatsConnection;
  buckets: Buckets;
  octopus: OctopusClient;
  config: RatebusConfig;
  holder: string;
  logger: Logger;
  clock?: Clock;
  metrics?: TermMetrics;
}
