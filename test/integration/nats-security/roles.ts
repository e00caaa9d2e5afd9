import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { JetStreamApiError, jetstream } from '@nats-io/jetstream';
import { type ConnectionOptions, connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { INBOX_PREFIXES } from '@ratebus/schema';
import { natsServerVersion } from '@ratebus/testkit';

/** `services/nats/` in this checkout (this file runs from `test/dist/integration/nats-security/`). */
export const NATS_DIR = fileURLToPath(new URL('../../../../services/nats/', import.meta.url));
export const ACCOUNTS_CONF = `${NATS_DIR}accounts.conf`;

export type Role = 'fetcher' | 'pod' | 'gateway' | 'lastresort' | 'inspector';

/** Test passwords: safe for nats-server's env substitution (a letter first, then [A-Za-z0-9_-], >= 16). */
export const PASSWORDS: Record<Role, string> = {
  fetcher: 'fetcherSecret_0001',
  pod: 'podSecret_00000001',
  gateway: 'gatewaySecret_0001',
  lastresort: 'lastresortSecret_1',
  inspector: 'inspectorSecret_01',
};

/** The environment every node needs: accounts.conf reads the passwords from it. */
export const ROLE_ENV: Record<string, string> = {
  RATEBUS_FETCHER_PASSWORD: PASSWORDS.fetcher,
  RATEBUS_POD_PASSWORD: PASSWORDS.pod,
  RATEBUS_GATEWAY_PASSWORD: PASSWORDS.gateway,
  RATEBUS_LASTRESORT_PASSWORD: PASSWORDS.lastresort,
  RATEBUS_INSPECTOR_PASSWORD: PASSWORDS.inspector,
};

/** Inbox prefixes the roles must use (see accounts.conf); pods and the gateway keep the default `_INBOX`. */
export const INBOX_PREFIX: Partial<Record<Role, string>> = {
  fetcher: INBOX_PREFIXES.fetcher,
  lastresort: INBOX_PREFIXES.lastresort,
  inspector: INBOX_PREFIXES.inspector,
};

/**
 * The text of services/nats/accounts.conf, for the testkit's `extraConfig`. Inlined rather than
 * `include "<abs path>"`: nats-server 2.9.10 joins every include path onto the including file's folder, so
 * an absolute path from the testkit's temp dir resolves to `<tmp>/<abs path>` and the server refuses to start.
 * The node files include it relatively (`include accounts.conf`), which the config test checks with `-t`.
 */
export function accountsConfig(): string {
  return readFileSync(ACCOUNTS_CONF, 'utf8');
}

/**
 * Connects as a role with its password and inbox prefix; by default no reconnects, so a refused login fails
 * fast. `options` override the rest (a long-lived connection in a cluster that loses nodes reconnects).
 */
export function connectAs(
  role: Role,
  servers: string | readonly string[],
  options: Omit<ConnectionOptions, 'servers' | 'user' | 'pass' | 'inboxPrefix'> = {},
): Promise<NatsConnection> {
  const inboxPrefix = INBOX_PREFIX[role];
  return connect({
    servers: typeof servers === 'string' ? servers : [...servers],
    user: role,
    pass: PASSWORDS[role],
    name: `nats-security-${role}`,
    maxReconnectAttempts: 0,
    ...options,
    ...(inboxPrefix ? { inboxPrefix } : {}),
  });
}

/** nats-server's JetStream API error codes that limits answer with (nats-server's server/errors.json). */
export const JS_CODES = {
  /** JSStreamRollupFailedF: "rollup not permitted" (the bucket's allow_rollup_hdrs is false). */
  rollupNotPermitted: 10111,
  /** JSStreamMessageExceedsMaximumErr: a value larger than the bucket's max_msg_size. */
  messageTooLarge: 10054,
  /** JSMemoryResourcesExceededErr: "insufficient memory resources" (the account's max_mem is 0). */
  memoryResources: 10028,
  /** JSMaximumConsumersLimitErr: the stream's or the account's max_consumers is reached. */
  maximumConsumers: 10026,
} as const;

/** For `assert.rejects`: the JetStream API refused with `code`; anything else fails the test. */
export function isJsCode(code: number) {
  return (e: unknown): boolean => {
    for (let cur: unknown = e; cur instanceof Error; cur = cur.cause) {
      if (cur instanceof JetStreamApiError && cur.code === code) return true;
    }
    throw new Error(`expected JetStream API error ${code}`, { cause: e });
  };
}

/**
 * A JetStream publish with `Nats-Rollup` (`all`: erase every other subject of the stream; `sub`: every earlier
 * revision of this subject, which is what a KV purge sends). The buckets must refuse both.
 */
export function rollup(nc: NatsConnection, subject: string, kind: 'all' | 'sub' = 'all') {
  const h = headers();
  h.set('Nats-Rollup', kind);
  return jetstream(nc).publish(subject, 'wipe', { headers: h });
}

/** JetStream settings in `node-N.conf` that nats-server 2.9 does not know (it rejects unknown fields). */
const NEWER_THAN_2_9 = /^\s*sync_interval:.*$/m;

/** One temp folder per test process for the 2.9 copies, removed when the process exits. */
let copies: string | undefined;

/**
 * The path of a shipped config for the nats-server under test: the file itself, or, for a 2.9 server (the
 * floor the suites still run on), a copy beside a copy of accounts.conf without the settings 2.9 lacks
 * (services/nats/README.md "Versions").
 */
export function confForServer(file: string, version = natsServerVersion()): string {
  const [major, minor] = version;
  if (major > 2 || minor >= 10) return `${NATS_DIR}${file}`;
  if (!copies) {
    const dir = mkdtempSync(join(tmpdir(), 'ratebus-conf-2.9-'));
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'accounts.conf'), readFileSync(ACCOUNTS_CONF));
    copies = dir;
  }
  const text = readFileSync(`${NATS_DIR}${file}`, 'utf8');
  writeFileSync(join(copies, file), text.replace(new RegExp(NEWER_THAN_2_9.source, 'gm'), ''));
  return join(copies, file);
}
