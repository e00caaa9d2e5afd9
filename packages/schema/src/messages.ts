import { z } from 'zod';
import { ProductCodeSchema, type RatesDocument, SCHEMA_VERSION, TariffCodeSchema } from './rates.js';
import { UtcInstant, UtcSecond } from './time.js';

const version = z.literal(SCHEMA_VERSION);
/** Who wrote something: a host, pod or process name. Printable ASCII, no spaces. */
const Actor = z.string().regex(/^[!-~]{1,128}$/, 'printable ASCII without spaces, 1-128 characters');

/** Value of the lease key. The lease's KV revision at `create` is the fencing term. */
export const LeaseValueSchema = z.strictObject({
  type: z.literal('lease'),
  schemaVersion: version,
  holder: Actor,
  /** Random per term: lets a leader tell its own ambiguous write from someone else's. */
  nonce: z.uuid(),
  acquiredAt: UtcInstant,
  /** The fencing term (revision of the winning create or take-over). Absent in that write, written by every renew. */
  term: z.int().positive().optional(),
  /**
   * The holder's lease duration, ms: a revision of the key left unchanged this long (as watched by a
   * candidate) means its holder is gone. Absent in values written before the bucket lost its TTL.
   */
  durationMs: z.int().positive().optional(),
});
export type LeaseValue = z.infer<typeof LeaseValueSchema>;

/** Value of a `ratebus-interest` key: some pod wants this tariff kept fresh. Expires with the bucket TTL. */
export const InterestSchema = z.strictObject({
  type: z.literal('interest'),
  schemaVersion: version,
  product: ProductCodeSchema,
  tariff: TariffCodeSchema,
  renewedAt: UtcInstant,
  by: Actor,
});
export type Interest = z.infer<typeof InterestSchema>;

/**
 * Value of a `ratebus-checks` key: the fetcher asked upstream at `checkedAt` and the content was
 * (still) `contentHash`. Written on every successful check, so pods can tell a live fetcher from a dead one
 * without the rates document being rewritten.
 */
export const CheckedSchema = z.strictObject({
  type: z.literal('checked'),
  schemaVersion: version,
  product: ProductCodeSchema,
  tariff: TariffCodeSchema,
  checkedAt: UtcInstant,
  contentHash: z.string().regex(/^sha256:[0-9a-f]{64}$/),
  coversThrough: UtcSecond.nullable(),
  term: z.int().positive(),
});
export type Checked = z.infer<typeof CheckedSchema>;

/** The Checked record confirming a document's content at `checkedAt` (default: the document's `fetchedAt`). */
export function checkedOf(doc: RatesDocument, checkedAt: string = doc.fetchedAt): Checked {
  const { product, tariff, contentHash, coversThrough, term } = doc;
  return {
    type: 'checked',
    schemaVersion: SCHEMA_VERSION,
    product,
    tariff,
    checkedAt,
    contentHash,
    coversThrough,
    term,
  };
}

/** Body of a request on `ratebus.refresh.{product}.{tariff}`. The reply is a rates document. */
export const RefreshRequestSchema = z.strictObject({
  type: z.literal('refresh-request'),
  schemaVersion: version,
  product: ProductCodeSchema,
  tariff: TariffCodeSchema,
  by: Actor,
  /** Ask upstream even if a fresh document is held (still coalesced and budgeted). Default false. */
  force: z.boolean().optional(),
});
export type RefreshRequest = z.infer<typeof RefreshRequestSchema>;

/** Headers carrying a typed error on a request/reply; the body is then empty. */
export const ERROR_CODE_HEADER = 'Ratebus-Error-Code';
export const ERROR_HEADER = 'Ratebus-Error';

/** Stable error codes a fetcher may answer a refresh or URL request with. */
export const ReplyErrorCode = {
  /** The product or tariff does not exist upstream (remembered for a while). */
  NotFound: 'NOT_FOUND',
  /** The request body or subject was invalid. */
  BadRequest: 'BAD_REQUEST',
  /** Upstream failed (5xx, timeout, invalid response) after retries. */
  Upstream: 'UPSTREAM_UNAVAILABLE',
  /** The process-wide request budget or upstream throttling forbids a call now. */
  Throttled: 'THROTTLED',
  /** The responder lost leadership while working. */
  NotLeader: 'NOT_LEADER',
  /** A URL outside the allow-list. */
  Forbidden: 'FORBIDDEN',
  /** The leader already tracks as many tariffs as it may: a new one is not taken on (try again later). */
  TooManyTariffs: 'TOO_MANY_TARIFFS',
  /** The upstream answer is larger than the URL cache stores. */
  TooLarge: 'TOO_LARGE',
  Internal: 'INTERNAL',
} as const;
export type ReplyErrorCode = (typeof ReplyErrorCode)[keyof typeof ReplyErrorCode];

/** Body of a request on `ratebus.urls.get`: a public upstream GET, path and query only. */
export const UrlRequestSchema = z.strictObject({
  type: z.literal('url-request'),
  schemaVersion: version,
  /** Path plus optional query, e.g. `/v1/products/?is_variable=true`. Must start with `/v1/`. */
  path: z
    .string()
    .max(2048)
    .regex(/^\/v1\/[!-~]*$/, 'a /v1/ path of printable ASCII'),
  by: Actor,
});
export type UrlRequest = z.infer<typeof UrlRequestSchema>;

/** Reply to a URL request, and the value stored in the `ratebus-urls` bucket. */
export const UrlResponseSchema = z.strictObject({
  type: z.literal('url-response'),
  schemaVersion: version,
  /** Normalised path plus query that was fetched. */
  path: z.string().max(2048),
  status: z.int().min(100).max(599),
  contentType: z.string().max(200),
  /** The upstream body as text. */
  body: z.string(),
  fetchedAt: UtcInstant,
});
export type UrlResponse = z.infer<typeof UrlResponseSchema>;
