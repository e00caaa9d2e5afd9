import { DEFAULT_NATS_URL } from '@ratebus/schema';
import { z } from 'zod';

/** The environment variable of each NATS setting: the one set of names every service and the CLI read. */
export const NATS_ENV = {
  url: 'NATS_URL',
  user: 'NATS_USER',
  password: 'NATS_PASSWORD',
  creds: 'NATS_CREDS',
  token: 'NATS_TOKEN',
  inboxPrefix: 'NATS_INBOX_PREFIX',
} as const;
export type NatsSetting = keyof typeof NATS_ENV;
/** The login settings: what a service reads by default (the inbox prefix is the CLI's alone). */
export const NATS_LOGIN_SETTINGS: readonly NatsSetting[] = ['url', 'user', 'password', 'creds', 'token'];

/** Raw values by setting; undefined = unset. */
export type NatsSettingsInput = { readonly [K in NatsSetting]?: string | undefined };
/** What each setting is called in problems: the environment variable, or e.g. a CLI flag. */
export type NatsSettingLabels = Readonly<Record<NatsSetting, string>>;
/** Reads a file as UTF-8 text; throws when it cannot. */
export type ReadTextFile = (path: string) => string;

/** How to log in. */
export type NatsAuth =
  | { readonly kind: 'none' }
  | { readonly kind: 'user'; readonly user: string; readonly password: string }
  | { readonly kind: 'creds'; readonly path: string; readonly creds: string }
  | { readonly kind: 'token'; readonly token: string };

/** Validated NATS settings. */
export interface NatsSettings {
  readonly servers: readonly string[];
  readonly auth: NatsAuth;
  /** Undefined: the connection's own default (nats.js `_INBOX`, or the role's prefix). */
  readonly inboxPrefix: string | undefined;
}

/** One problem with one setting; `message` names the variable (or flag) itself. */
export interface NatsSettingsIssue {
  readonly setting: NatsSetting;
  /** The label of the setting, e.g. `NATS_URL`. */
  readonly variable: string;
  readonly message: string;
}

export type NatsSettingsResult =
  | { readonly ok: true; readonly settings: NatsSettings }
  | { readonly ok: false; readonly issues: readonly NatsSettingsIssue[] };

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

const serverList = z
  .string()
  .transform((s) => s.split(',').map((x) => x.trim()))
  .refine((list) => list.every((s) => s !== '' && isNatsServer(s)), {
    message: 'expected a comma-separated list of nats://host:port, tls://host:port or host:port',
  });

/** Field by field; how the fields combine is {@link loginIssues}'s job. */
const FieldsSchema = z.object({
  url: serverList.optional(),
  inboxPrefix: z
    .string()
    .regex(INBOX_RE, 'letters, digits, "_" and "-" in dot-separated tokens, e.g. _INBOX_inspector')
    .optional(),
});

/**
 * Picks the settings out of an environment. Empty and blank variables count as unset, as in most container
 * tooling; `settings` limits what is read (default: the login, without the inbox prefix).
 */
export function natsEnvInput(
  env: Readonly<Record<string, string | undefined>>,
  settings: readonly NatsSetting[] = NATS_LOGIN_SETTINGS,
): NatsSettingsInput {
  const out: { [K in NatsSetting]?: string } = {};
  for (const s of settings) {
    const v = env[NATS_ENV[s]];
    if (v !== undefined && v.trim() !== '') out[s] = v;
  }
  return out;
}

/**
 * One login method only, in the order creds, token, user/password: each method given reports the later ones
 * given beside it, once. A user needs a password and the other way round.
 */
function loginIssues(i: NatsSettingsInput, label: NatsSettingLabels): NatsSettingsIssue[] {
  const issues: NatsSettingsIssue[] = [];
  const add = (setting: NatsSetting, message: string) =>
    issues.push({ setting, variable: label[setting], message });
  const userPass = i.user !== undefined || i.password !== undefined;
  const userPassLabel = `${label.user}/${label.password}`;
  const besideCreds = [...(userPass ? [userPassLabel] : []), ...(i.token !== undefined ? [label.token] : [])];
  if (i.creds !== undefined && besideCreds.length > 0) {
    add(
      'creds',
      `${label.creds} conflicts with ${besideCreds.join(' and ')}: choose one way to authenticate`,
    );
  }
  if (i.token !== undefined && userPass) {
    add('token', `${label.token} conflicts with ${userPassLabel}: choose one way to authenticate`);
  }
  if ((i.user === undefined) !== (i.password === undefined)) {
    add(i.user === undefined ? 'user' : 'password', `${label.user} and ${label.password} go together`);
  }
  if (i.user === '' || i.password === '') {
    add(i.user === '' ? 'user' : 'password', `${label.user} and ${label.password} must not be empty`);
  }
  return issues;
}

/** The creds file, read now so that a wrong path is reported with every other problem. */
function readCreds(
  path: string,
  readFile: ReadTextFile,
  label: string,
): { creds: string } | { issue: NatsSettingsIssue } {
  const issue = (message: string) => ({ issue: { setting: 'creds' as const, variable: label, message } });
  let creds: string;
  try {
    creds = readFile(path);
  } catch (e) {
    const why = e && typeof e === 'object' && 'code' in e ? String(e.code) : String(e);
    return issue(`${label}: cannot read ${path}: ${why}`);
  }
  return creds.trim() === '' ? issue(`${label}: ${path} is empty`) : { creds };
}

function authOf(i: NatsSettingsInput, creds: string | undefined): NatsAuth {
  if (i.creds !== undefined && creds !== undefined) return { kind: 'creds', path: i.creds, creds };
  if (i.token !== undefined) return { kind: 'token', token: i.token };
  if (i.user !== undefined && i.password !== undefined) {
    return { kind: 'user', user: i.user, password: i.password };
  }
  return { kind: 'none' };
}

/**
 * Validates NATS settings once and lists every problem: servers (`nats://`, `tls://` or bare `host:port`,
 * comma-separated; default {@link DEFAULT_NATS_URL}), one login method (user and password together, a
 * token, or a readable, non-empty creds file) and the inbox prefix. Problems name the setting by `labels`.
 */
export function parseNatsSettings(
  input: NatsSettingsInput,
  readFile: ReadTextFile,
  labels: NatsSettingLabels = NATS_ENV,
): NatsSettingsResult {
  const fields = FieldsSchema.safeParse({ url: input.url, inboxPrefix: input.inboxPrefix });
  const fieldIssues = (setting: 'url' | 'inboxPrefix'): NatsSettingsIssue[] =>
    (fields.error?.issues ?? [])
      .filter((i) => i.path[0] === setting)
      .map((i) => ({ setting, variable: labels[setting], message: `${labels[setting]}: ${i.message}` }));
  const issues = [...fieldIssues('url'), ...loginIssues(input, labels)];
  let creds: string | undefined;
  if (input.creds !== undefined) {
    const r = readCreds(input.creds, readFile, labels.creds);
    if ('issue' in r) issues.push(r.issue);
    else creds = r.creds;
  }
  issues.push(...fieldIssues('inboxPrefix'));
  if (!fields.success || issues.length > 0) return { ok: false, issues };
  return {
    ok: true,
    settings: {
      servers: fields.data.url ?? [DEFAULT_NATS_URL],
      auth: authOf(input, creds),
      inboxPrefix: fields.data.inboxPrefix,
    },
  };
}
