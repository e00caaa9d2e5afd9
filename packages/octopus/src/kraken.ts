import { createHash } from 'node:crypto';
import { DEFAULT_OCTOPUS_BASE_URL } from '@ratebus/schema';
import { z } from 'zod';
import { parseRetryAfter } from './backoff.js';
import type { RequestBudget } from './budget.js';
import {
  AbortedError,
  InvalidResponseError,
  KrakenAuthError,
  KrakenGraphqlError,
  KrakenThrottledError,
  UpstreamHttpError,
} from './errors.js';
import { jwtExpiresAt } from './jwt.js';
import { type Log, SILENT } from './log.js';
import { DEFAULT_TIMEOUT_MS, DEFAULT_USER_AGENT, HttpTransport, type RawResponse } from './transport.js';

/** Refresh a token this long before its `exp`: 5 minutes. */
export const DEFAULT_REFRESH_EARLY_MS = 5 * 60_000;
/** First per-account cool-down after Kraken throttles: 1 minute (doubles while throttling goes on). */
export const DEFAULT_THROTTLE_COOLDOWN_MS = 60_000;
/** Cap of the per-account cool-down: 30 minutes. */
export const DEFAULT_MAX_COOLDOWN_MS = 30 * 60_000;
export const DEFAULT_GRAPHQL_PATH = '/v1/graphql/';

/** Kraken codes meaning "this token is no good": unknown, expired, invalid. Refresh and retry once. */
const AUTH_CODES = new Set(['KT-CT-1139', 'KT-CT-1111', 'KT-CT-1143']);
/** Kraken's rate limit. Back off; the token is fine. */
const THROTTLE_CODE = 'KT-CT-1199';
/** Our code for a CloudFront/WAF block page (HTTP 403 with HTML). */
export const EDGE_BLOCK_CODE = 'EDGE-403';

const OBTAIN_TOKEN = `mutation obtainKrakenToken($input: ObtainJSONWebTokenInput!) {
  obtainKrakenToken(input: $input) { token refreshToken refreshExpiresIn }
}`;

const GraphqlBodySchema = z.object({
  data: z.record(z.string(), z.unknown()).nullable().optional(),
  errors: z
    .array(
      z.object({
        message: z.string().max(2_000).optional(),
        extensions: z
          .object({ errorCode: z.string().max(100).optional(), errorDescription: z.string().optional() })
          .optional(),
      }),
    )
    .max(100)
    .optional(),
});
type GraphqlBody = z.infer<typeof GraphqlBodySchema>;

const ObtainSchema = z.object({
  obtainKrakenToken: z.object({ token: z.string().min(10).max(10_000) }),
});

export interface KrakenTokensOptions {
  /** Kraken origin. Default https://api.octopus.energy. */
  baseUrl?: string;
  /** GraphQL path. Default `/v1/graphql/`. */
  graphqlPath?: string;
  /** Default `ratebus/<version> (+https://github.com/ratebus/ratebus)`. */
  userAgent?: string;
  /** Connect, headers and body timeout, each, ms. Default 20000. */
  timeoutMs?: number;
  /** When given, every GraphQL request takes a token from this budget. Default: none. */
  budget?: RequestBudget;
  /** Mint a new token this long before `exp`, ms. Default 300000 (5 min). */
  refreshEarlyMs?: number;
  /** First per-account cool-down after KT-CT-1199 or an edge 403, ms; doubles per repeat. Default 60000. */
  throttleCooldownMs?: number;
  /** Cap of the per-account cool-down, ms. Default 1800000 (30 min). */
  maxCooldownMs?: number;
  /** Extra headers on every request. */
  headers?: Record<string, string>;
  /** Default: silent. Tokens and API keys are never logged. */
  logger?: Log;
  /** Wall clock used against the JWT `exp`, ms since the epoch. Default `Date.now`. */
  now?: () => number;
}

interface Account {
  /** Short hash of the API key: what logs and errors show. */
  readonly id: string;
  token?: { value: string; expiresAt: number };
  minting?: Promise<string>;
  coolUntil: number;
  throttleStreak: number;
  lastThrottleCode: string;
}

/**
 * Per-account Kraken JWTs for GraphQL calls. A token is minted with `obtainKrakenToken`, cached per account
 * until 5 minutes before its JWT `exp`, and minted once for concurrent callers. On KT-CT-1139/1111/1143 the
 * token is replaced and the call retried once. On KT-CT-1199 or a CloudFront-style 403 the account cools
 * down (calls fail fast with {@link KrakenThrottledError}) and the token is KEPT: re-minting on a rate
 * limit is what locked other clients out for hours.
 */
export class KrakenTokens implements AsyncDisposable {
  readonly #transport: HttpTransport;
  readonly #path: string;
  readonly #budget: RequestBudget | undefined;
  readonly #refreshEarlyMs: number;
  readonly #cooldownMs: number;
  readonly #maxCooldownMs: number;
  readonly #log: Log;
  readonly #now: () => number;
  readonly #accounts = new Map<string, Account>();

  constructor(opts: KrakenTokensOptions = {}) {
    this.#transport = new HttpTransport({
      baseUrl: opts.baseUrl ?? DEFAULT_OCTOPUS_BASE_URL,
      userAgent: opts.userAgent ?? DEFAULT_USER_AGENT,
      timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      headers: { accept: 'application/json', ...opts.headers },
    });
    this.#path = opts.graphqlPath ?? DEFAULT_GRAPHQL_PATH;
    this.#budget = opts.budget;
    this.#refreshEarlyMs = opts.refreshEarlyMs ?? DEFAULT_REFRESH_EARLY_MS;
    this.#cooldownMs = opts.throttleCooldownMs ?? DEFAULT_THROTTLE_COOLDOWN_MS;
    this.#maxCooldownMs = opts.maxCooldownMs ?? DEFAULT_MAX_COOLDOWN_MS;
    this.#log = opts.logger ?? SILENT;
    this.#now = opts.now ?? Date.now;
  }

  /**
   * Runs a GraphQL query or mutation for the account of `apiKey` and returns its `data`. Throws
   * {@link KrakenThrottledError} while the account cools down, {@link KrakenAuthError} when the key is
   * refused or a fresh token is refused too, {@link KrakenGraphqlError} for any other GraphQL error.
   */
  async query<T = Record<string, unknown>>(
    apiKey: string,
    graphql: string,
    variables?: Record<string, unknown>,
    opts: { signal?: AbortSignal } = {},
  ): Promise<T> {
    const { signal } = opts;
    const account = this.#account(apiKey);
    const body = JSON.stringify(variables === undefined ? { query: graphql } : { query: graphql, variables });
    for (let attempt = 1; ; attempt++) {
      this.#checkCooldown(account);
      const token = await this.#token(account, apiKey, signal);
      const res = await this.#post(account, body, { authorization: `JWT ${token}` }, signal);
      const errorCode = firstErrorCode(res.body);
      if (errorCode !== undefined && AUTH_CODES.has(errorCode)) {
        // Drop this token (unless a newer one was minted meanwhile) and try once more with a fresh one.
        if (account.token?.value === token) delete account.token;
        if (attempt >= 2) {
          throw new KrakenAuthError(errorCode, `Kraken refused a freshly minted token (${errorCode})`);
        }
        this.#log.info({ account: account.id, errorCode }, 'Kraken token refused; minting a new one');
        continue;
      }
      const data = this.#dataOrThrow(res.body, errorCode);
      account.throttleStreak = 0;
      return data as T;
    }
  }

  /** When the cached token of `apiKey` expires (JWT `exp`), or null when none is cached. */
  expiresAt(apiKey: string): Date | null {
    const t = this.#accounts.get(accountId(apiKey))?.token;
    return t ? new Date(t.expiresAt) : null;
  }

  /** Remaining cool-down of an account, ms (0 when none). */
  cooldownMs(apiKey: string): number {
    const a = this.#accounts.get(accountId(apiKey));
    return a ? Math.max(0, a.coolUntil - this.#now()) : 0;
  }

  /** Forgets the cached token and cool-down of an account (e.g. when a user unlinks it). */
  forget(apiKey: string): void {
    this.#accounts.delete(accountId(apiKey));
  }

  async close(): Promise<void> {
    this.#accounts.clear();
    await this.#transport.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #account(apiKey: string): Account {
    if (typeof apiKey !== 'string' || apiKey.length === 0) throw new TypeError('apiKey must be a string');
    const id = accountId(apiKey);
    let a = this.#accounts.get(id);
    if (!a) {
      a = { id, coolUntil: 0, throttleStreak: 0, lastThrottleCode: THROTTLE_CODE };
      this.#accounts.set(id, a);
    }
    return a;
  }

  #checkCooldown(account: Account): void {
    const left = account.coolUntil - this.#now();
    if (left > 0) {
      throw new KrakenThrottledError(account.lastThrottleCode, `account ${account.id} is cooling down`, {
        retryAfterMs: left,
      });
    }
  }

  /** A token valid for at least `refreshEarlyMs` more; concurrent callers share one mint. */
  async #token(account: Account, apiKey: string, signal: AbortSignal | undefined): Promise<string> {
    const t = account.token;
    if (t && this.#now() < t.expiresAt - this.#refreshEarlyMs) return t.value;
    account.minting ??= this.#mint(account, apiKey).finally(() => {
      delete account.minting;
    });
    return raceSignal(account.minting, signal);
  }

  async #mint(account: Account, apiKey: string): Promise<string> {
    const body = JSON.stringify({ query: OBTAIN_TOKEN, variables: { input: { APIKey: apiKey } } });
    const res = await this.#post(account, body, {}, undefined);
    const errorCode = firstErrorCode(res.body);
    if (errorCode !== undefined && errorCode !== THROTTLE_CODE) {
      throw new KrakenAuthError(
        errorCode,
        `Kraken refused the API key of account ${account.id} (${errorCode})`,
      );
    }
    const data = ObtainSchema.safeParse(this.#dataOrThrow(res.body, errorCode));
    if (!data.success) throw new InvalidResponseError('obtainKrakenToken answered off-schema');
    const value = data.data.obtainKrakenToken.token;
    const expiresAt = jwtExpiresAt(value);
    account.token = { value, expiresAt };
    this.#log.info(
      { account: account.id, expiresAt: new Date(expiresAt).toISOString() },
      'Kraken token minted',
    );
    return value;
  }

  /** One POST; throttling answers (edge 403, HTTP 429) start a cool-down; other non-200s are errors. */
  async #post(
    account: Account,
    body: string,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
  ): Promise<{ body: GraphqlBody }> {
    if (this.#budget) await this.#budget.acquire(signal);
    const res = await this.#transport.send({
      method: 'POST',
      path: this.#path,
      headers: { ...headers, 'content-type': 'application/json' },
      body,
      signal,
    });
    if (res.status === 403 && isEdgeBlock(res)) this.#throttled(account, EDGE_BLOCK_CODE, undefined);
    if (res.status === 429) {
      this.#throttled(account, 'HTTP-429', parseRetryAfter(res.headers['retry-after']));
    }
    if (res.status !== 200) {
      throw new UpstreamHttpError(res.status, `Kraken answered ${res.status}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(res.body);
    } catch (cause) {
      throw new InvalidResponseError('Kraken answer is not JSON', { status: res.status, cause });
    }
    const parsed = GraphqlBodySchema.safeParse(json);
    if (!parsed.success)
      throw new InvalidResponseError('Kraken answer is off-schema', { status: res.status });
    if (firstErrorCode(parsed.data) === THROTTLE_CODE) this.#throttled(account, THROTTLE_CODE, undefined);
    return { body: parsed.data };
  }

  #dataOrThrow(body: GraphqlBody, errorCode: string | undefined): Record<string, unknown> {
    const first = body.errors?.[0];
    if (first) {
      throw new KrakenGraphqlError(errorCode ?? null, `Kraken error ${errorCode ?? ''}`.trim());
    }
    if (!body.data) throw new InvalidResponseError('Kraken answer has neither data nor errors');
    return body.data;
  }

  /** Starts or extends the account's cool-down (doubling per repeat) and throws. */
  #throttled(account: Account, code: string, retryAfterMs: number | undefined): never {
    account.throttleStreak++;
    const step = Math.min(this.#maxCooldownMs, this.#cooldownMs * 2 ** (account.throttleStreak - 1));
    const wait = Math.max(step, retryAfterMs ?? 0);
    account.coolUntil = this.#now() + wait;
    account.lastThrottleCode = code;
    this.#log.warn(
      { account: account.id, code, cooldownMs: wait },
      'Kraken throttled; cooling down, token kept',
    );
    throw new KrakenThrottledError(code, `Kraken throttled account ${account.id} (${code})`, {
      retryAfterMs: wait,
    });
  }
}

function accountId(apiKey: string): string {
  return createHash('sha256').update(apiKey).digest('hex').slice(0, 12);
}

function firstErrorCode(body: GraphqlBody): string | undefined {
  return body.errors?.[0]?.extensions?.errorCode;
}

/** A 403 that is an edge (CloudFront/WAF) block page rather than a Kraken answer. */
function isEdgeBlock(res: RawResponse): boolean {
  return !/json/i.test(res.contentType) || /cloudfront|request blocked/i.test(res.body.slice(0, 4096));
}

/** Waits for a shared promise, but lets this caller leave early when its signal fires. */
function raceSignal<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(new AbortedError(undefined, { cause: signal.reason }));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new AbortedError(undefined, { cause: signal.reason }));
    signal.addEventListener('abort', onAbort, { once: true });
    void p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
