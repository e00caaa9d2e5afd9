import { Pool } from 'undici';
import {
  AbortedError,
  InvalidResponseError,
  type OctopusError,
  UpstreamNetworkError,
  UpstreamTimeoutError,
} from './errors.js';

/** Package version, sent in the default User-Agent. */
export const VERSION = '0.1.0';
export const DEFAULT_USER_AGENT = `ratebus/${VERSION} (+https://github.com/ratebus/ratebus)`;
/** Default connect, headers and body timeout: 20 s (what PredBat and the HA integration use). */
export const DEFAULT_TIMEOUT_MS = 20_000;
/** Keep idle connections this long, ms. */
const KEEP_ALIVE_MS = 30_000;
/** Sockets per origin. The request budget, not this, limits the request rate. */
const CONNECTIONS = 8;
/** Largest body accepted: a 1,500-row page is ~200 KB. */
const MAX_BODY_BYTES = 16 * 1024 * 1024;

export interface TransportOptions {
  baseUrl: string;
  userAgent: string;
  timeoutMs: number;
  headers: Record<string, string>;
}

export interface SendRequest {
  method: 'GET' | 'POST';
  /** Path and query, starting with `/`. */
  path: string;
  headers?: Record<string, string>;
  body?: string;
  signal?: AbortSignal | undefined;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  contentType: string;
  body: string;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

function errorCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * One keep-alive undici pool for one origin; `send` makes exactly one attempt and turns every failure into
 * a typed error: timeouts, network errors before the headers, truncated bodies after them, and aborts.
 */
export class HttpTransport {
  readonly origin: string;
  readonly #pool: Pool;
  readonly #headers: Record<string, string>;
  #closed = false;

  constructor(opts: TransportOptions) {
    const url = new URL(opts.baseUrl);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new TypeError(`baseUrl must be http(s), got ${url.protocol}`);
    }
    this.origin = url.origin;
    this.#pool = new Pool(this.origin, {
      connections: CONNECTIONS,
      keepAliveTimeout: KEEP_ALIVE_MS,
      connectTimeout: opts.timeoutMs,
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
      maxResponseSize: MAX_BODY_BYTES,
    });
    this.#headers = { ...opts.headers, 'user-agent': opts.userAgent };
  }

  async send(req: SendRequest): Promise<RawResponse> {
    const { signal } = req;
    if (signal?.aborted) throw new AbortedError(undefined, { cause: signal.reason });
    let res: Awaited<ReturnType<Pool['request']>>;
    try {
      res = await this.#pool.request({
        method: req.method,
        path: req.path,
        headers: { ...this.#headers, ...req.headers },
        body: req.body ?? null,
        signal: signal ?? null,
      });
    } catch (e) {
      throw classify(e, signal, false);
    }
    let bytes: ArrayBuffer;
    try {
      bytes = await res.body.arrayBuffer();
    } catch (e) {
      throw classify(e, signal, true);
    }
    const contentType = String(res.headers['content-type'] ?? '');
    let body: string;
    try {
      body = utf8.decode(bytes);
    } catch (cause) {
      throw new InvalidResponseError('body is not valid UTF-8', { status: res.statusCode, cause });
    }
    return { status: res.statusCode, headers: res.headers, contentType, body };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.close();
  }
}

/** Maps an undici/socket failure to a typed error. After the headers, a broken body is a truncated body. */
function classify(e: unknown, signal: AbortSignal | undefined, afterHeaders: boolean): OctopusError {
  if (signal?.aborted) return new AbortedError(undefined, { cause: signal.reason });
  const code = errorCode(e);
  if (code !== undefined && TIMEOUT_CODES.has(code)) {
    return new UpstreamTimeoutError(`upstream timed out (${code})`, { cause: e });
  }
  if (afterHeaders) return new InvalidResponseError(`truncated body (${code ?? 'error'})`, { cause: e });
  return new UpstreamNetworkError(`upstream connection failed (${code ?? 'error'})`, { cause: e });
}
