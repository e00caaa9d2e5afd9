import { hostname } from 'node:os';
import { type ConnectionOptions, credsAuthenticator } from '@nats-io/transport-node';
import { DEFAULT_NATS_URL, INBOX_PREFIXES } from '@ratebus/schema';
import type { ConnectionFlags } from './args.js';
import { UsageError } from './errors.js';

export { DEFAULT_NATS_URL };
/** Ping interval of long-running commands (`watch`), ms: a dead link is noticed within about 3 × this. */
export const DEFAULT_PING_INTERVAL_MS = 5_000;
/** Wait between reconnect attempts of `watch`, ms. */
export const DEFAULT_RECONNECT_TIME_WAIT_MS = 1_000;

/**
 * Inbox prefixes the well-known users must use (services/nats/accounts.conf): replies to the inspector and
 * the fetcher travel on their own prefixes; pods and the gateway keep the default `_INBOX`.
 */
export const ROLE_INBOX_PREFIX: Readonly<Record<string, string>> = {
  inspector: INBOX_PREFIXES.inspector,
  fetcher: INBOX_PREFIXES.fetcher,
};

/** The environment variables read (the fetcher's NATS variables, plus NATS_INBOX_PREFIX). */
export const ENV_VARS = [
  'NATS_URL',
  'NATS_USER',
  'NATS_PASSWORD',
  'NATS_CREDS',
  'NATS_TOKEN',
  'NATS_INBOX_PREFIX',
] as const;
type EnvVar = (typeof ENV_VARS)[number];

export type Env = Readonly<Record<string, string | undefined>>;
/** Reads a file as UTF-8 text; throws when it cannot. */
export type ReadFile = (path: string) => string;

/** How to log in. */
export type NatsAuth =
  | { readonly kind: 'none' }
  | { readonly kind: 'user'; readonly user: string; readonly password: string }
  | { readonly kind: 'creds'; readonly path: string; readonly creds: string }
  | { readonly kind: 'token'; readonly token: string };

/** Validated connection settings. */
export interface ConnectionSettings {
  readonly servers: readonly string[];
  readonly auth: NatsAuth;
  /** Undefined: the client default `_INBOX`. */
  readonly inboxPrefix: string | undefined;
  /** Connection name, also the `by` of refresh requests: printable ASCII without spaces. */
  readonly name: string;
}

const NATS_SCHEMES = new Set(['nats:', 'tls:']);
const INBOX_RE = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/;

function isNatsServer(s: string): boolean {
  try {
    const u = new URL(s.includes('://') ? s : `nats://${s}`);
    return NATS_SCHEMES.has(u.protocol) && u.hostname !== '';
  } catch {
    return false;
  }
}

/** Default connection name: `ratebus-cli-{host}-{pid}`, cut to 128 printable characters. */
export function defaultName(host = hostname(), pid = process.pid): string {
  return `ratebus-cli-${host.replace(/[^!-~]/g, '') || 'host'}-${pid}`.slice(0, 128);
}

/**
 * Merges flags over the environment and validates once, listing every problem in one {@link UsageError}.
 * Flags win per setting; any auth flag (`--user`, `--password`, `--creds`) replaces the environment's
 * credentials as a whole, so a flag never mixes with an env login. One login method only.
 */
export function resolveConnection(
  flags: ConnectionFlags,
  env: Env,
  readFile: ReadFile,
  name = defaultName(),
): ConnectionSettings {
  const problems: string[] = [];
  const get = (k: EnvVar): string | undefined => {
    const v = env[k];
    return v === undefined || v.trim() === '' ? undefined : v;
  };

  const serverSource = flags.server !== undefined ? '--server' : 'NATS_URL';
  const serverText = flags.server ?? get('NATS_URL') ?? DEFAULT_NATS_URL;
  const servers = serverText.split(',').map((s) => s.trim());
  if (servers.some((s) => s === '' || !isNatsServer(s))) {
    problems.push(
      `${serverSource}: expected a comma-separated list of nats://host:port, tls://host:port or host:port`,
    );
  }

  const fromFlags = flags.user !== undefined || flags.password !== undefined || flags.creds !== undefined;
  const src = fromFlags
    ? { user: flags.user, password: flags.password, creds: flags.creds, token: undefined }
    : {
        user: get('NATS_USER'),
        password: get('NATS_PASSWORD'),
        creds: get('NATS_CREDS'),
        token: get('NATS_TOKEN'),
      };
  const label = fromFlags
    ? { user: '--user', password: '--password', creds: '--creds', token: '' }
    : { user: 'NATS_USER', password: 'NATS_PASSWORD', creds: 'NATS_CREDS', token: 'NATS_TOKEN' };
  const userPass = src.user !== undefined || src.password !== undefined;
  if (src.creds !== undefined && userPass) {
    problems.push(
      `${label.creds} conflicts with ${label.user}/${label.password}: choose one way to authenticate`,
    );
  }
  if (src.token !== undefined && (userPass || src.creds !== undefined)) {
    problems.push(
      `${label.token} conflicts with ${userPass ? `${label.user}/${label.password}` : label.creds}: choose one way to authenticate`,
    );
  }
  if ((src.user === undefined) !== (src.password === undefined)) {
    problems.push(`${label.user} and ${label.password} go together`);
  }
  if (src.user === '' || src.password === '')
    problems.push(`${label.user} and ${label.password} must not be empty`);

  let creds: string | undefined;
  if (src.creds !== undefined) {
    try {
      creds = readFile(src.creds);
      if (creds.trim() === '') problems.push(`${label.creds}: ${src.creds} is empty`);
    } catch (e) {
      const why = e && typeof e === 'object' && 'code' in e ? String(e.code) : String(e);
      problems.push(`${label.creds}: cannot read ${src.creds}: ${why}`);
    }
  }

  const inboxSource = flags.inboxPrefix !== undefined ? '--inbox-prefix' : 'NATS_INBOX_PREFIX';
  let inboxPrefix = flags.inboxPrefix ?? get('NATS_INBOX_PREFIX');
  if (inboxPrefix !== undefined && !INBOX_RE.test(inboxPrefix)) {
    problems.push(
      `${inboxSource}: letters, digits, "_" and "-" in dot-separated tokens, e.g. _INBOX_inspector`,
    );
  }
  inboxPrefix ??= src.user !== undefined ? ROLE_INBOX_PREFIX[src.user] : undefined;

  if (problems.length > 0) throw new UsageError(problems);

  let auth: NatsAuth = { kind: 'none' };
  if (src.creds !== undefined && creds !== undefined) auth = { kind: 'creds', path: src.creds, creds };
  else if (src.token !== undefined) auth = { kind: 'token', token: src.token };
  else if (src.user !== undefined && src.password !== undefined) {
    auth = { kind: 'user', user: src.user, password: src.password };
  }
  return { servers, auth, inboxPrefix, name };
}

/**
 * nats.js options. One-shot commands fail fast (no reconnect, `timeoutMs` handshake); `watch` reconnects
 * for ever with a short ping so it rides out server restarts.
 */
export function natsOptions(
  s: ConnectionSettings,
  o: { readonly timeoutMs: number; readonly persistent: boolean },
): ConnectionOptions {
  const opts: ConnectionOptions = {
    servers: [...s.servers],
    name: s.name,
    timeout: o.timeoutMs,
    maxReconnectAttempts: o.persistent ? -1 : 0,
    reconnectTimeWait: DEFAULT_RECONNECT_TIME_WAIT_MS,
    pingInterval: DEFAULT_PING_INTERVAL_MS,
    maxPingOut: 2,
  };
  if (s.inboxPrefix !== undefined) opts.inboxPrefix = s.inboxPrefix;
  const a = s.auth;
  if (a.kind === 'user') Object.assign(opts, { user: a.user, pass: a.password });
  else if (a.kind === 'token') opts.token = a.token;
  else if (a.kind === 'creds') opts.authenticator = credsAuthenticator(new TextEncoder().encode(a.creds));
  return opts;
}
