import { createHash, createHmac, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { html, type SimResponse } from './http-util.js';

/** Default lifetime of a Kraken token, seconds (the real one lasts an hour). */
export const DEFAULT_TOKEN_TTL_SECONDS = 3600;
/** Lifetime of a refresh token, seconds (7 days). */
export const REFRESH_TTL_SECONDS = 7 * 24 * 3600;

export const KRAKEN_ERROR_CODES = ['KT-CT-1139', 'KT-CT-1111', 'KT-CT-1143', 'KT-CT-1199'] as const;
export type KrakenErrorCode = (typeof KRAKEN_ERROR_CODES)[number] | 'KT-CT-1138';

const ERRORS: Record<KrakenErrorCode, { message: string; description: string; type: string }> = {
  'KT-CT-1138': { message: 'Invalid API key.', description: 'Invalid API key.', type: 'VALIDATION' },
  'KT-CT-1139': {
    message: 'Authentication failed.',
    description: 'Authentication failed.',
    type: 'AUTHORIZATION',
  },
  'KT-CT-1111': {
    message: 'Signature of the JWT has expired.',
    description: 'Signature of the JWT has expired.',
    type: 'AUTHORIZATION',
  },
  'KT-CT-1143': {
    message: 'Invalid token.',
    description: 'The authorization header is not a valid credential.',
    type: 'AUTHORIZATION',
  },
  'KT-CT-1199': {
    message: 'Too many requests.',
    description: 'There were too many requests. Please try again later.',
    type: 'THROTTLING',
  },
};

export const KrakenSettingsSchema = z.strictObject({
  tokenTtlSeconds: z
    .int()
    .min(1)
    .max(30 * 86_400)
    .optional(),
  inject: z
    .array(
      z.strictObject({
        errorCode: z.enum(KRAKEN_ERROR_CODES),
        count: z.int().min(1),
        operation: z.enum(['obtainKrakenToken', 'other']).optional(),
      }),
    )
    .optional(),
  edgeBlock403: z.int().min(0).optional(),
});
export type KrakenSettingsInput = z.infer<typeof KrakenSettingsSchema>;

export interface KrakenSettings {
  tokenTtlSeconds: number;
  inject: { errorCode: KrakenErrorCode; count: number; operation?: 'obtainKrakenToken' | 'other' }[];
  edgeBlock403: number;
}

const API_KEY_RE = /^sk_(live|test)_[A-Za-z0-9]+$/;

const b64url = (x: string | Buffer) => Buffer.from(x).toString('base64url');

/** The operation name: the first field of the first selection set. */
export function operationOf(query: string): string {
  return /\{\s*([A-Za-z_][A-Za-z0-9_]*)/.exec(query)?.[1] ?? 'unknown';
}

/** A small Kraken GraphQL endpoint: `obtainKrakenToken`, authenticated `viewer`, injected errors. */
export class Kraken {
  settings: KrakenSettings = { tokenTtlSeconds: DEFAULT_TOKEN_TTL_SECONDS, inject: [], edgeBlock403: 0 };
  readonly #secret = randomBytes(32);
  /** token → subject and expiry (simulated epoch seconds). */
  readonly #tokens = new Map<string, { sub: string; exp: number }>();
  readonly #refresh = new Map<string, { sub: string; exp: number }>();

  configure(input: KrakenSettingsInput): void {
    if (input.tokenTtlSeconds !== undefined) this.settings.tokenTtlSeconds = input.tokenTtlSeconds;
    if (input.inject) {
      for (const i of input.inject) {
        this.settings.inject.push({
          errorCode: i.errorCode,
          count: i.count,
          ...(i.operation ? { operation: i.operation } : {}),
        });
      }
    }
    if (input.edgeBlock403 !== undefined) this.settings.edgeBlock403 = input.edgeBlock403;
  }

  reset(): void {
    this.settings = { tokenTtlSeconds: DEFAULT_TOKEN_TTL_SECONDS, inject: [], edgeBlock403: 0 };
  }

  /** Answers one GraphQL POST. `onOperation` reports the operation for stats. */
  handle(
    rawBody: string,
    authorization: string | undefined,
    nowMs: number,
    onOperation: (op: string) => void,
  ): SimResponse {
    if (this.settings.edgeBlock403 > 0) {
      this.settings.edgeBlock403--;
      return cloudfront403();
    }
    let body: { query?: unknown; variables?: unknown };
    try {
      body = JSON.parse(rawBody) as typeof body;
    } catch {
      return graphqlJson(400, { errors: [{ message: 'Must provide query string.' }] });
    }
    if (typeof body !== 'object' || body === null || typeof body.query !== 'string') {
      return graphqlJson(400, { errors: [{ message: 'Must provide query string.' }] });
    }
    const op = operationOf(body.query);
    onOperation(op);
    const injected = this.settings.inject.find(
      (i) =>
        i.count > 0 &&
        (i.operation === undefined || (i.operation === 'obtainKrakenToken') === (op === 'obtainKrakenToken')),
    );
    if (injected) {
      injected.count--;
      this.settings.inject = this.settings.inject.filter((i) => i.count > 0);
      return errorAnswer(injected.errorCode, op);
    }
    const now = Math.floor(nowMs / 1000);
    if (op === 'obtainKrakenToken') return this.obtainToken(body.query, body.variables, now);
    const token = authorization?.replace(/^JWT\s+/i, '').trim();
    const known = token ? this.#tokens.get(token) : undefined;
    if (!known) return errorAnswer('KT-CT-1139', op);
    if (known.exp <= now) return errorAnswer('KT-CT-1111', op);
    if (op === 'viewer') {
      return graphqlJson(200, {
        data: { viewer: { accounts: [{ number: `A-${known.sub.slice(0, 8).toUpperCase()}` }] } },
      });
    }
    return graphqlJson(200, { data: { [op]: null } });
  }

  private obtainToken(query: string, variables: unknown, now: number): SimResponse {
    const input = (variables as { input?: { APIKey?: unknown; refreshToken?: unknown } } | undefined)?.input;
    const apiKey =
      typeof input?.APIKey === 'string' ? input.APIKey : /APIKey\s*:\s*"([^"]*)"/.exec(query)?.[1];
    const refresh =
      typeof input?.refreshToken === 'string'
        ? input.refreshToken
        : /refreshToken\s*:\s*"([^"]*)"/.exec(query)?.[1];
    let sub: string;
    if (apiKey !== undefined) {
      if (!API_KEY_RE.test(apiKey)) return errorAnswer('KT-CT-1138', 'obtainKrakenToken');
      sub = createHash('sha256').update(apiKey).digest('hex').slice(0, 16);
    } else if (refresh !== undefined) {
      const r = this.#refresh.get(refresh);
      if (!r || r.exp <= now) return errorAnswer('KT-CT-1143', 'obtainKrakenToken');
      sub = r.sub;
    } else {
      return errorAnswer('KT-CT-1138', 'obtainKrakenToken');
    }
    const exp = now + this.settings.tokenTtlSeconds;
    const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
    const payload = b64url(
      JSON.stringify({
        sub,
        gty: 'EMAIL-AND-PASSWORD',
        iat: now,
        exp,
        iss: 'https://api.octopus.energy/v1/graphql/',
        jti: randomBytes(8).toString('hex'),
      }),
    );
    const sig = createHmac('sha256', this.#secret).update(`${header}.${payload}`).digest('base64url');
    const token = `${header}.${payload}.${sig}`;
    const refreshToken = randomBytes(20).toString('hex');
    const refreshExpiresIn = now + REFRESH_TTL_SECONDS;
    this.#tokens.set(token, { sub, exp });
    this.#refresh.set(refreshToken, { sub, exp: refreshExpiresIn });
    return graphqlJson(200, { data: { obtainKrakenToken: { token, refreshToken, refreshExpiresIn } } });
  }
}

function graphqlJson(status: number, body: unknown): SimResponse {
  return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

function errorAnswer(code: KrakenErrorCode, op: string): SimResponse {
  const e = ERRORS[code];
  return graphqlJson(200, {
    errors: [
      {
        message: e.message,
        locations: [{ line: 1, column: 3 }],
        path: [op],
        extensions: {
          errorType: e.type,
          errorCode: code,
          errorDescription: e.description,
          errorClass: e.type,
        },
      },
    ],
    data: { [op]: null },
  });
}

function cloudfront403(): SimResponse {
  const id = randomBytes(26).toString('base64url');
  return html(
    403,
    `<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN" "http://www.w3.org/TR/html4/loose.dtd">
<HTML><HEAD><META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=iso-8859-1">
<TITLE>ERROR: The request could not be satisfied</TITLE>
</HEAD><BODY>
<H1>403 ERROR</H1>
<H2>The request could not be satisfied.</H2>
<HR noshade size="1px">
Request blocked.
We can't connect to the server for this app or website at this time. There might be too much traffic or a configuration error. Try again later, or contact the app or website owner.
<BR clear="all">
If you provide content to customers through CloudFront, you can find steps to troubleshoot and help prevent this error by reviewing the CloudFront documentation.
<BR clear="all">
<HR noshade size="1px">
<PRE>
Generated by cloudfront (CloudFront)
Request ID: ${id}
</PRE>
<ADDRESS>
</ADDRESS>
</BODY></HTML>`,
    { server: 'CloudFront', 'x-cache': 'Error from cloudfront' },
  );
}
