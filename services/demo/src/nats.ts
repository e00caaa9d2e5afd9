import { randomBytes } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats } from '@ratebus/bus';
import { DEFAULT_NATS_URL, INBOX_PREFIXES } from '@ratebus/schema';
import { startPrivateNats } from './private-nats.js';

/** User and password of one role; `null` where the server has no users (anonymous). */
export type Login = { user: string; pass: string } | null;

export interface NatsChoice {
  /** For the status line. */
  readonly description: string;
  readonly servers: string[];
  readonly logins: { fetcher: Login; gateway: Login; pod: Login; inspector: Login };
  stop(): Promise<void>;
}

const ROLES = ['fetcher', 'gateway', 'pod', 'lastresort', 'inspector'] as const;

/**
 * Where the demo's NATS comes from: `NATS_URL` if set; else a JetStream server already on 127.0.0.1:4222;
 * else a private `nats-server` with the same per-role accounts as a deployment (random passwords).
 */
export async function chooseNats(env: NodeJS.ProcessEnv): Promise<NatsChoice> {
  if (env.NATS_URL) {
    const login: Login =
      env.NATS_USER && env.NATS_PASSWORD ? { user: env.NATS_USER, pass: env.NATS_PASSWORD } : null;
    return {
      description: `NATS_URL ${env.NATS_URL}${login ? ` as ${login.user}` : ''}`,
      servers: env.NATS_URL.split(',').map((s) => s.trim()),
      logins: { fetcher: login, gateway: login, pod: login, inspector: login },
      stop: async () => undefined,
    };
  }
  // DEMO_NATS=private skips the shared server (tests never touch 127.0.0.1:4222).
  if (env.DEMO_NATS !== 'private' && (await jetStreamAt(DEFAULT_NATS_URL))) {
    return {
      description: `the nats-server already on 127.0.0.1:4222 (anonymous)`,
      servers: [DEFAULT_NATS_URL],
      logins: { fetcher: null, gateway: null, pod: null, inspector: null },
      stop: async () => undefined,
    };
  }
  return privateNats();
}

/** A private nats-server with the deployment's per-role users, each with a fresh random password. */
async function privateNats(): Promise<NatsChoice> {
  const passwords = Object.fromEntries(
    ROLES.map((r) => [r, `d${randomBytes(18).toString('hex')}`]),
  ) as Record<(typeof ROLES)[number], string>;
  const server = await startPrivateNats({
    RATEBUS_FETCHER_PASSWORD: passwords.fetcher,
    RATEBUS_GATEWAY_PASSWORD: passwords.gateway,
    RATEBUS_POD_PASSWORD: passwords.pod,
    RATEBUS_LASTRESORT_PASSWORD: passwords.lastresort,
    RATEBUS_INSPECTOR_PASSWORD: passwords.inspector,
  });
  const login = (r: (typeof ROLES)[number]): Login => ({ user: r, pass: passwords[r] });
  return {
    description: `a private nats-server on ${server.url.replace('nats://', '')} (per-role users, no anonymous access)`,
    servers: [server.url],
    logins: {
      fetcher: login('fetcher'),
      gateway: login('gateway'),
      pod: login('pod'),
      inspector: login('inspector'),
    },
    stop: () => server.stop(),
  };
}

/** The status screen's connection: the inspector's login where the server has users. */
export function connectStatus(choice: NatsChoice): Promise<NatsConnection> {
  const login = choice.logins.inspector;
  return connectNats(
    {
      servers: choice.servers,
      auth: login ? { kind: 'user', user: login.user, password: login.pass } : { kind: 'none' },
      ...(login ? { inboxPrefix: INBOX_PREFIXES.inspector } : {}),
    },
    { name: 'ratebus-demo-status', maxReconnectAttempts: -1 },
  );
}

/** True when a server that accepts anonymous clients and has JetStream answers at `url` within a second. */
async function jetStreamAt(url: string): Promise<boolean> {
  try {
    const nc = await connectNats(
      { servers: url, auth: { kind: 'none' } },
      { timeoutMs: 1_000, maxReconnectAttempts: 0 },
    );
    try {
      await (await jetstreamManager(nc, { timeout: 1_000 })).getAccountInfo();
      return true;
    } finally {
      await nc.close();
    }
  } catch {
    return false;
  }
}
