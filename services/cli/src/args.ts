import { parseArgs } from 'node:util';
import { InvalidCodeError, productCode, type TariffRef, tariffCode, tariffRef } from '@ratebus/schema';
import { UsageError } from './errors.js';

/** Default deadline of one command's NATS work (connect, listing the buckets, a refresh reply), ms. */
export const DEFAULT_TIMEOUT_MS = 10_000;
/** Longest accepted `--timeout`, ms. */
export const MAX_TIMEOUT_MS = 10 * 60_000;

export const COMMANDS = ['status', 'get', 'watch', 'refresh'] as const;
export type CommandName = (typeof COMMANDS)[number];

/** Connection settings given as flags; each overrides its environment variable. */
export interface ConnectionFlags {
  readonly server?: string;
  readonly user?: string;
  readonly password?: string;
  readonly creds?: string;
  readonly inboxPrefix?: string;
}

/** A parsed command line. */
export type Invocation =
  | { readonly kind: 'help' }
  | { readonly kind: 'version' }
  | {
      readonly kind: 'run';
      readonly command: CommandName;
      /** The tariff of get/refresh (always) and watch (when given). */
      readonly ref: TariffRef | null;
      readonly json: boolean;
      readonly force: boolean;
      readonly timeoutMs: number;
      readonly connection: ConnectionFlags;
    };

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
  json: { type: 'boolean' },
  force: { type: 'boolean' },
  timeout: { type: 'string' },
  server: { type: 'string', short: 's' },
  user: { type: 'string' },
  password: { type: 'string' },
  creds: { type: 'string' },
  'inbox-prefix': { type: 'string' },
} as const;

/** `500ms`, `10s`, `2m`, or a bare number of seconds. */
export function parseDuration(text: string): number | null {
  const m = /^(\d+)(ms|s|m)?$/.exec(text.trim());
  if (!m) return null;
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  return unit === 'ms' ? n : unit === 's' ? n * 1_000 : n * 60_000;
}

function parseTariff(product: string, tariff: string, problems: string[]): TariffRef | null {
  const before = problems.length;
  const check = <T>(f: () => T): T | null => {
    try {
      return f();
    } catch (e) {
      if (!(e instanceof InvalidCodeError)) throw e;
      problems.push(e.message);
      return null;
    }
  };
  const p = check(() => productCode(product));
  const t = check(() => tariffCode(tariff));
  if (p === null || t === null || problems.length > before) return null;
  return check(() => tariffRef(p, t));
}

/** What {@link readCommandLine} found: the invocation if it is valid, and every problem. */
export interface CommandLine {
  readonly invocation: Invocation | null;
  /** Connection flags as given, so their problems can be listed with the others. Null if unparsable. */
  readonly connection: ConnectionFlags | null;
  readonly problems: readonly string[];
}

/**
 * Parses `argv` (without node and the script). Throws {@link UsageError} listing every problem: unknown
 * flags, a missing or unknown command, wrong arguments, invalid product/tariff codes, a bad timeout.
 */
export function parseCommandLine(argv: readonly string[]): Invocation {
  const r = readCommandLine(argv);
  if (r.invocation === null) throw new UsageError(r.problems);
  return r.invocation;
}

/** Like {@link parseCommandLine}, but returns the problems (and the connection flags) instead of throwing. */
export function readCommandLine(argv: readonly string[]): CommandLine {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    return { invocation: null, connection: null, problems: [e instanceof Error ? e.message : String(e)] };
  }
  const { values: v, positionals } = parsed;
  const [first, ...rest] = positionals;
  if (v.help || first === 'help') return { invocation: { kind: 'help' }, connection: null, problems: [] };
  if (v.version) return { invocation: { kind: 'version' }, connection: null, problems: [] };

  const connection: { -readonly [K in keyof ConnectionFlags]: ConnectionFlags[K] } = {};
  if (v.server !== undefined) connection.server = v.server;
  if (v.user !== undefined) connection.user = v.user;
  if (v.password !== undefined) connection.password = v.password;
  if (v.creds !== undefined) connection.creds = v.creds;
  if (v['inbox-prefix'] !== undefined) connection.inboxPrefix = v['inbox-prefix'];

  const problems: string[] = [];
  if (first === undefined) {
    problems.push(`no command given; expected one of: ${COMMANDS.join(', ')}`);
    return { invocation: null, connection, problems };
  }
  if (!(COMMANDS as readonly string[]).includes(first)) {
    problems.push(`unknown command "${first}"; expected one of: ${COMMANDS.join(', ')}, help`);
    return { invocation: null, connection, problems };
  }
  const command = first as CommandName;

  let ref: TariffRef | null = null;
  const tariffArgs = (optional: boolean) => {
    if (rest.length === 2) ref = parseTariff(rest[0] as string, rest[1] as string, problems);
    else if (!(optional && rest.length === 0)) {
      problems.push(
        `${command} expects <product> <tariff>${optional ? ' or nothing' : ''}, got ${rest.length} argument(s)`,
      );
    }
  };
  if (command === 'status') {
    if (rest.length > 0) problems.push(`status takes no arguments, got ${rest.length}`);
  } else tariffArgs(command === 'watch');
  if (v.force && command !== 'refresh') problems.push('--force applies to refresh only');

  let timeoutMs = DEFAULT_TIMEOUT_MS;
  if (v.timeout !== undefined) {
    const ms = parseDuration(v.timeout);
    if (ms === null || ms <= 0 || ms > MAX_TIMEOUT_MS) {
      problems.push(`--timeout must be a duration such as 500ms, 10s or 2m (above 0, at most 10m)`);
    } else timeoutMs = ms;
  }
  if (problems.length > 0) return { invocation: null, connection, problems };
  const invocation: Invocation = {
    kind: 'run',
    command,
    ref,
    json: v.json ?? false,
    force: v.force ?? false,
    timeoutMs,
    connection,
  };
  return { invocation, connection, problems };
}
