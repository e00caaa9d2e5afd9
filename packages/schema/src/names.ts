import {
  type ProductCode,
  productCode,
  type TariffCode,
  type TariffRef,
  tariffCode,
  tariffRef,
} from './codes.js';
import { InvalidCodeError } from './errors.js';

/**
 * Names on the bus. Everything a `nats` CLI user sees is built here, from validated codes only.
 *
 * | what                         | name                                         |
 * |------------------------------|----------------------------------------------|
 * | latest rates per tariff (KV) | bucket `ratebus-rates`, key `{product}.{tariff}`   |
 * | "checked at" confirmations   | bucket `ratebus-checks`, key `{product}.{tariff}`  |
 * | pods' interest (KV, TTL)     | bucket `ratebus-interest`, key `{product}.{tariff}`|
 * | fetcher lease (KV, no TTL)   | bucket `ratebus-lease`, key `fetcher`              |
 * | shared URL cache (KV, TTL)   | bucket `ratebus-urls`, key = sha256 hex of the URL |
 * | live rate pushes             | subject `ratebus.rates.{product}.{tariff}`         |
 * | refresh request/reply        | subject `ratebus.refresh.{product}.{tariff}`       |
 * | URL cache request/reply      | subject `ratebus.urls.get`                         |
 */
export const BUCKETS = {
  rates: 'ratebus-rates',
  checks: 'ratebus-checks',
  interest: 'ratebus-interest',
  lease: 'ratebus-lease',
  urls: 'ratebus-urls',
} as const;
export type BucketRole = keyof typeof BUCKETS;

/** Where every service, pod and the CLI connect when no NATS URL is given. */
export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';

/**
 * Reply inbox prefix of each role that has its own (services/nats/accounts.conf): replies to the fetcher, the
 * last resort and the inspector stay off the pods' `_INBOX.>`. Pods and the gateway use the default `_INBOX`.
 */
export const INBOX_PREFIXES = {
  fetcher: '_INBOX_fetcher',
  lastresort: '_INBOX_lastresort',
  inspector: '_INBOX_inspector',
} as const;

/** Log levels every ratebus process accepts in `LOG_LEVEL` (pino's). */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The lease key inside {@link BUCKETS.lease}. */
export const LEASE_KEY = 'fetcher';

export const SUBJECT_PREFIX = 'ratebus';

export const SUBJECTS = {
  /** Wildcard for every live rate push. */
  allRates: `${SUBJECT_PREFIX}.rates.>`,
  /** Wildcard the leader answers refresh requests on. */
  allRefresh: `${SUBJECT_PREFIX}.refresh.>`,
  /** Shared URL cache: request/reply. */
  urlGet: `${SUBJECT_PREFIX}.urls.get`,
} as const;

/** Start of the queue groups the leader answers refresh and URL requests in: `ratebus-fetchers.{term}`. */
const RESPONDER_QUEUE_PREFIX = 'ratebus-fetchers';

/**
 * The queue group of a term's refresh and URL responders. One group per term: only the leader subscribes,
 * and while a deposed leader is still subscribed (frozen, its connection not yet dropped by the server) the
 * new leader is in another group, so it gets every request rather than every other one. The `fetcher` role
 * may subscribe to those subjects only in such a group (`ratebus-fetchers.*`).
 */
export function responderQueue(term: number): string {
  if (!Number.isSafeInteger(term) || term < 0)
    throw new RangeError(`term must be an integer ≥ 0, got ${term}`);
  return `${RESPONDER_QUEUE_PREFIX}.${term}`;
}

const BUCKET_RE = /^[A-Za-z0-9_-]{1,64}$/;

/** Validates a KV bucket name (`[A-Za-z0-9_-]`, at most 64); throws {@link InvalidCodeError}. */
export function bucketName(value: unknown): string {
  if (typeof value !== 'string' || !BUCKET_RE.test(value)) {
    throw new InvalidCodeError('bucket', value, 'only letters, digits, "_" and "-" are allowed (1-64)');
  }
  return value;
}

/** The KV key for a tariff: `{product}.{tariff}`. Both codes are validated and must belong together. */
export function rateKey(product: ProductCode | string, tariff: TariffCode | string): string {
  const ref = tariffRef(product, tariff);
  return `${ref.product}.${ref.tariff}`;
}

/** Parses a key built by {@link rateKey}; throws {@link InvalidCodeError} for anything else. */
export function parseRateKey(key: unknown): TariffRef {
  if (typeof key !== 'string') throw new InvalidCodeError('key', key, 'must be a string');
  const parts = key.split('.');
  if (parts.length !== 2) throw new InvalidCodeError('key', key, 'expected {product}.{tariff}');
  return tariffRef(parts[0], parts[1]);
}

/** Subject carrying live pushes of a tariff's document. */
export function ratesSubject(product: ProductCode | string, tariff: TariffCode | string): string {
  const ref = tariffRef(product, tariff);
  return `${SUBJECT_PREFIX}.rates.${ref.product}.${ref.tariff}`;
}

/** Subject the leading fetcher answers refresh requests for a tariff on. */
export function refreshSubject(product: ProductCode | string, tariff: TariffCode | string): string {
  const ref = tariffRef(product, tariff);
  return `${SUBJECT_PREFIX}.refresh.${ref.product}.${ref.tariff}`;
}

/** Parses `ratebus.{rates|refresh}.{product}.{tariff}`; throws {@link InvalidCodeError} otherwise. */
export function parseTariffSubject(subject: string): { kind: 'rates' | 'refresh' } & TariffRef {
  const parts = subject.split('.');
  const [prefix, kind, product, tariff] = parts;
  if (parts.length !== 4 || prefix !== SUBJECT_PREFIX || (kind !== 'rates' && kind !== 'refresh')) {
    throw new InvalidCodeError(
      'subject-token',
      subject,
      'expected ratebus.{rates|refresh}.{product}.{tariff}',
    );
  }
  return { kind, ...tariffRef(productCode(product), tariffCode(tariff)) };
}

const URL_KEY_RE = /^[0-9a-f]{64}$/;

/** Validates a URL-cache key (lower-case SHA-256 hex); throws {@link InvalidCodeError}. */
export function urlCacheKey(value: unknown): string {
  if (typeof value !== 'string' || !URL_KEY_RE.test(value)) {
    throw new InvalidCodeError('key', value, 'expected 64 lower-case hex characters');
  }
  return value;
}
