import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { RateClient } from '@ratebus/client';
import { serviceMain, startFetcher, startGateway } from '@ratebus/fixtures';
import { type Simulator, startSimulator } from '@ratebus/octopus-sim';
import { INBOX_PREFIXES, RatebusConfigSchema, type TariffRef, tariffRef } from '@ratebus/schema';
import { check, freePort, ManagedProcess, NatsCluster } from '@ratebus/testkit';
import { parse, stringify } from 'yaml';

/**
 * The whole ratebus deployment for the end-to-end suite, with the configs and permissions of
 * `docker-compose.yml`: either started here as local processes (a 3-node secured NATS cluster, the
 * simulator, two fetchers, the gateway, pods), or — when `RATEBUS_E2E_NATS_URL` is set — a running compose
 * deployment reached through environment variables (see test/e2e/README.md).
 */

/** The repository root (this file runs from `test/dist/e2e/`). */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CLI = serviceMain('cli');
const ACCOUNTS_CONF = join(ROOT, 'services', 'nats', 'accounts.conf');
const DEPLOY_CONFIG = join(ROOT, 'deploy', 'ratebus.yaml');

export type Role = 'fetcher' | 'pod' | 'gateway' | 'lastresort' | 'inspector';
const ROLES: readonly Role[] = ['fetcher', 'pod', 'gateway', 'lastresort', 'inspector'];

/** Inbox prefixes the roles must use (services/nats/accounts.conf); pods and the gateway keep `_INBOX`. */
export const INBOX_PREFIX: Readonly<Record<Role, string | undefined>> = {
  fetcher: INBOX_PREFIXES.fetcher,
  pod: undefined,
  gateway: undefined,
  lastresort: INBOX_PREFIXES.lastresort,
  inspector: INBOX_PREFIXES.inspector,
};

/** Lease timings written into the local fetchers' config: short, so a crashed leader is replaced in ~6 s. */
export const E2E_LEASE = { durationMs: 5_000, renewDeadlineMs: 3_000, retryPeriodMs: 500 } as const;
export type LeaseTimings = { durationMs: number; renewDeadlineMs: number; retryPeriodMs: number };

/** Number of in-process pods (RateClients with the pod user). */
export const DEFAULT_PODS = 3;
/** Bound on the whole start, ms. */
const START_TIMEOUT_MS = 60_000;
/** Fetcher ids, as in compose (`FETCHER_ID` = the compose service name). */
const FETCHER_IDS = ['fetcher-1', 'fetcher-2'] as const;

/** A password that passes services/nats/run.sh: `[A-Za-z][A-Za-z0-9_-]{15,}`. */
export function strongPassword(): string {
  return `p${randomBytes(24).toString('hex')}`;
}

export interface TopologyOptions {
  /** In-process pods. Default {@link DEFAULT_PODS}. */
  pods?: number;
  /** Start a `ratebus watch --json` process with the pod user (like compose's sample pods). Default true. */
  cliPod?: boolean;
  /** Label for temp dirs and connection names. Default `e2e`. */
  label?: string;
}

/** How the suite reaches a compose deployment (all from the environment). */
interface ComposeSettings {
  servers: string[];
  gatewayUrl: string;
  simUrl: string;
  mirrorDir: string;
  configPath: string;
  passwords: Record<Role, string>;
  fetcherIds: string[];
  killCommand: string;
  startCommand: string;
}

const env = (name: string): string | undefined => {
  const v = process.env[name]?.trim();
  return v ? v : undefined;
};

/** Compose settings when `RATEBUS_E2E_NATS_URL` is set; every missing variable is reported at once. */
export function composeSettings(): ComposeSettings | null {
  const nats = env('RATEBUS_E2E_NATS_URL');
  if (!nats) return null;
  const problems: string[] = [];
  const passwords = {} as Record<Role, string>;
  for (const role of ROLES) {
    const name = `RATEBUS_${role.toUpperCase()}_PASSWORD`;
    const value = env(`RATEBUS_E2E_${role.toUpperCase()}_PASSWORD`) ?? env(name);
    if (value) passwords[role] = value;
    else problems.push(`RATEBUS_E2E_${role.toUpperCase()}_PASSWORD (or ${name}) must be set`);
  }
  const mirrorDir = env('RATEBUS_E2E_MIRROR_DIR');
  if (!mirrorDir)
    problems.push('RATEBUS_E2E_MIRROR_DIR must be set (a host path: RATEBUS_MIRROR_VOLUME=./mirror in .env)');
  if (problems.length > 0) throw new Error(`e2e against compose: ${problems.join('; ')}`);
  return {
    servers: nats.split(',').map((s) => s.trim()),
    gatewayUrl: (env('RATEBUS_E2E_GATEWAY_URL') ?? 'http://127.0.0.1:8092').replace(/\/+$/, ''),
    simUrl: (env('RATEBUS_E2E_SIM_URL') ?? 'http://127.0.0.1:8091').replace(/\/+$/, ''),
    mirrorDir: mirrorDir as string,
    configPath: env('RATEBUS_E2E_CONFIG') ?? DEPLOY_CONFIG,
    passwords,
    fetcherIds: (env('RATEBUS_E2E_FETCHERS') ?? FETCHER_IDS.join(',')).split(',').map((s) => s.trim()),
    killCommand: env('RATEBUS_E2E_KILL') ?? 'docker-compose kill -s SIGKILL {service}',
    startCommand: env('RATEBUS_E2E_START') ?? 'docker-compose start {service}',
  };
}

function sh(command: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('/bin/sh', ['-c', command], { cwd: ROOT, timeout: 60_000 }, (error, _out, stderr) => {
      if (error) reject(new Error(`${command}: ${error.message}\n${stderr}`, { cause: error }));
      else resolve();
    });
  });
}

/** Rejects when `p` has not settled within `ms`. */
async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Tariffs and lease timings of a ratebus YAML config (validated with the schema, as the fetcher does). */
function readConfig(path: string): {
  tariffs: TariffRef[];
  lease: LeaseTimings;
  raw: Record<string, unknown>;
} {
  const raw = (parse(readFileSync(path, 'utf8')) ?? {}) as Record<string, unknown>;
  const cfg = RatebusConfigSchema.parse(raw);
  return { tariffs: cfg.tariffs.map((t) => tariffRef(t.product, t.tariff)), lease: cfg.lease, raw };
}

/**
 * A running deployment. Everything it starts or opens (processes, pods, connections, temp dirs) is
 * stopped by {@link Topology.stop}, which is idempotent.
 */
export class Topology implements AsyncDisposable {
  readonly mode: 'local' | 'compose';
  readonly servers: string[];
  readonly gatewayUrl: string;
  readonly simUrl: string;
  readonly mirrorDir: string;
  /** The configured tariffs (deploy/ratebus.yaml), fetched whether or not a pod asks. */
  readonly tariffs: readonly TariffRef[];
  readonly lease: LeaseTimings;
  readonly fetcherIds: readonly string[];
  readonly pods: RateClient[] = [];
  /** `ratebus watch --json` with the pod user, or null. */
  cliPod: ManagedProcess | null = null;
  private readonly passwords: Record<Role, string>;
  private readonly conns: NatsConnection[] = [];
  private readonly label: string;
  // local mode only
  private cluster: NatsCluster | null = null;
  private sim: Simulator | null = null;
  private dir: string | null = null;
  private configPath: string | null = null;
  private readonly fetchers = new Map<string, ManagedProcess>();
  private gateway: ManagedProcess | null = null;
  private compose: ComposeSettings | null = null;
  private stopping: Promise<void> | null = null;

  private constructor(init: {
    mode: 'local' | 'compose';
    servers: string[];
    gatewayUrl: string;
    simUrl: string;
    mirrorDir: string;
    tariffs: TariffRef[];
    lease: LeaseTimings;
    fetcherIds: string[];
    passwords: Record<Role, string>;
    label: string;
  }) {
    this.mode = init.mode;
    this.servers = init.servers;
    this.gatewayUrl = init.gatewayUrl;
    this.simUrl = init.simUrl;
    this.mirrorDir = init.mirrorDir;
    this.tariffs = init.tariffs;
    this.lease = init.lease;
    this.fetcherIds = init.fetcherIds;
    this.passwords = init.passwords;
    this.label = init.label;
  }

  /** Starts (or attaches to) the deployment and waits until the pods and the gateway are ready. */
  static async start(opts: TopologyOptions = {}): Promise<Topology> {
    const compose = composeSettings();
    const topo = compose ? Topology.attach(compose, opts) : await Topology.startLocal(opts);
    try {
      await topo.startPods(opts.pods ?? DEFAULT_PODS);
      await topo.waitReady();
      if (opts.cliPod ?? true) topo.cliPod = await topo.startCliWatch();
    } catch (e) {
      await topo.stop();
      throw e;
    }
    return topo;
  }

  private static attach(c: ComposeSettings, opts: TopologyOptions): Topology {
    const cfg = readConfig(c.configPath);
    const topo = new Topology({
      mode: 'compose',
      servers: c.servers,
      gatewayUrl: c.gatewayUrl,
      simUrl: c.simUrl,
      mirrorDir: c.mirrorDir,
      tariffs: cfg.tariffs,
      lease: cfg.lease,
      fetcherIds: c.fetcherIds,
      passwords: c.passwords,
      label: opts.label ?? 'e2e',
    });
    topo.compose = c;
    return topo;
  }

  private static async startLocal(opts: TopologyOptions): Promise<Topology> {
    const label = opts.label ?? 'e2e';
    const dir = mkdtempSync(join(tmpdir(), `ratebus-${label}-`));
    const passwords = Object.fromEntries(ROLES.map((r) => [r, strongPassword()])) as Record<Role, string>;
    // The compose config with the tests' short lease timings; everything else (tariffs, budget) as deployed.
    const deployed = readConfig(DEPLOY_CONFIG);
    const configPath = join(dir, 'ratebus.yaml');
    writeFileSync(configPath, stringify({ ...deployed.raw, lease: E2E_LEASE }));
    const cleanup: (() => Promise<void>)[] = [async () => rmSync(dir, { recursive: true, force: true })];
    try {
      // services/nats/node-N.conf: JetStream, cluster `ratebus`, `include accounts.conf`. The testkit writes
      // the listen/cluster/store lines for loopback; the accounts text is inlined (2.9 resolves includes
      // relative to the including file, which lives in a temp dir here).
      const cluster = await NatsCluster.start({
        size: 3,
        name: 'ratebus',
        extraConfig: readFileSync(ACCOUNTS_CONF, 'utf8'),
        env: Object.fromEntries(ROLES.map((r) => [`RATEBUS_${r.toUpperCase()}_PASSWORD`, passwords[r]])),
      });
      cleanup.push(() => cluster.stop());
      const sim = await startSimulator({ port: 0 });
      cleanup.push(() => sim.close());
      const gatewayPort = await freePort();
      const topo = new Topology({
        mode: 'local',
        servers: cluster.urls,
        gatewayUrl: `http://127.0.0.1:${gatewayPort}`,
        simUrl: sim.url,
        mirrorDir: join(dir, 'mirror'),
        tariffs: deployed.tariffs,
        lease: E2E_LEASE,
        fetcherIds: [...FETCHER_IDS],
        passwords,
        label,
      });
      topo.cluster = cluster;
      topo.sim = sim;
      topo.dir = dir;
      topo.configPath = configPath;
      cleanup.length = 0; // the topology owns them now
      try {
        for (const id of FETCHER_IDS) await topo.startFetcher(id);
        mkdirSync(join(dir, 'cache'), { recursive: true });
        topo.gateway = (
          await startGateway({
            natsUrl: cluster.urls.join(','),
            port: gatewayPort,
            upstream: sim.url,
            logLevel: 'info',
            inheritEnv: false,
            env: {
              NATS_USER: 'gateway',
              NATS_PASSWORD: passwords.gateway,
              HOST: '127.0.0.1',
              MIRROR_DIR: topo.mirrorDir,
              // As docker-compose.yml runs it: one gateway for the host, mirroring every tariff.
              SYNC: 'bucket',
              CACHE_DIR: join(dir, 'cache'),
              ENSURE_TIMEOUT_MS: '10000',
            },
          })
        ).proc;
      } catch (e) {
        await topo.stop();
        throw e;
      }
      return topo;
    } catch (e) {
      for (const c of cleanup.reverse()) await c().catch(() => undefined);
      throw e;
    }
  }

  /** The password of a role (the suite plays every role, as an operator would). */
  password(role: Role): string {
    return this.passwords[role];
  }

  /** Environment for a `ratebus` CLI process logged in as `role` (only PATH is inherited). */
  cliEnv(role: Role): Record<string, string> {
    return {
      PATH: process.env.PATH ?? '',
      NATS_URL: this.servers.join(','),
      NATS_USER: role,
      NATS_PASSWORD: this.passwords[role],
    };
  }

  /**
   * A connection as `role` with its inbox prefix; reconnects for ever (nodes are killed in these tests).
   * Closed by {@link stop}.
   */
  async connect(role: Role, servers: string | string[] = this.servers): Promise<NatsConnection> {
    const inboxPrefix = INBOX_PREFIX[role];
    const nc = await connect({
      servers,
      user: role,
      pass: this.passwords[role],
      name: `${this.label}-${role}-${this.conns.length + 1}`,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      pingInterval: 2_000,
      ...(inboxPrefix ? { inboxPrefix } : {}),
    });
    this.conns.push(nc);
    return nc;
  }

  private async startPods(n: number): Promise<void> {
    for (let i = 1; i <= n; i++) {
      this.pods.push(
        await RateClient.connect({
          servers: this.servers,
          credentials: { user: 'pod', pass: this.passwords.pod },
          name: `${this.label}-pod-${i}`,
          // Faster recovery than the defaults (15 s resync, 30 s backoff cap): nodes die in these tests.
          resyncIntervalMs: 2_000,
          retryMaxMs: 2_000,
          pingIntervalMs: 2_000,
        }),
      );
    }
  }

  private async waitReady(): Promise<void> {
    await withTimeout(
      Promise.all(this.pods.map((p) => p.ready())),
      START_TIMEOUT_MS,
      'pods ready (buckets created by a fetcher)',
    );
    await check(
      async () => {
        if (this.gateway && !this.gateway.running)
          throw new Error(`gateway exited:\n${this.gateway.output()}`);
        const res = await fetch(`${this.gatewayUrl}/readyz`);
        await res.arrayBuffer();
        return res.status === 200;
      },
      { timeout: START_TIMEOUT_MS, interval: 200, name: 'gateway /readyz' },
    );
  }

  private async startCliWatch(): Promise<ManagedProcess> {
    const proc = await ManagedProcess.start({
      name: 'ratebus watch (pod)',
      command: process.execPath,
      args: [CLI, 'watch', '--json'],
      env: this.cliEnv('pod'),
    });
    await proc.waitForOutput(/press Ctrl-C to stop/, 20_000);
    return proc;
  }

  /** Starts a fetcher (again) with the compose environment; compose: `RATEBUS_E2E_START`. */
  async startFetcher(id: string): Promise<void> {
    if (this.compose) return sh(this.compose.startCommand.replaceAll('{service}', id));
    if (!this.sim || !this.configPath) throw new Error('not a local topology');
    const old = this.fetchers.get(id);
    if (old?.running) throw new Error(`fetcher ${id} is running`);
    this.fetchers.set(
      id,
      (
        await startFetcher({
          id,
          natsUrl: this.servers,
          credentials: { user: 'fetcher', pass: this.passwords.fetcher },
          config: this.configPath,
          upstream: this.sim.url,
          logLevel: 'info',
          inheritEnv: false,
          env: { RATEBUS_REPLICAS: '3' },
        })
      ).proc,
    );
  }

  /** SIGKILL of a fetcher (a crash); compose: `RATEBUS_E2E_KILL`. */
  async killFetcher(id: string): Promise<void> {
    if (this.compose) return sh(this.compose.killCommand.replaceAll('{service}', id));
    const p = this.fetchers.get(id);
    if (!p) throw new Error(`no fetcher ${id}`);
    await p.kill('SIGKILL');
  }

  /** Server names of the NATS nodes (what `streams.info().cluster.leader` reports). */
  get natsNodes(): string[] {
    if (this.cluster) return this.cluster.nodes.map((n) => n.serverName);
    return ['nats-1', 'nats-2', 'nats-3'];
  }

  /** SIGKILL of a NATS node by server name; compose: `RATEBUS_E2E_KILL` with the service `nats-N`. */
  async killNatsNode(name: string): Promise<void> {
    if (this.compose) return sh(this.compose.killCommand.replaceAll('{service}', name));
    await this.node(name).kill('SIGKILL');
  }

  /** Starts a killed node again (same ports and store) and waits for the JetStream meta leader. */
  async restartNatsNode(name: string): Promise<void> {
    if (this.compose) return sh(this.compose.startCommand.replaceAll('{service}', name));
    await this.node(name).restart();
    await this.cluster?.waitForMetaLeader();
  }

  private node(name: string) {
    if (!this.cluster) throw new Error('not a local topology');
    return this.cluster.node(name);
  }

  /** Tails of every local process's output, for a failed test's report. */
  diagnostics(lines = 25): string {
    const procs: [string, ManagedProcess | null][] = [
      ...[...this.fetchers].map(([id, p]) => [id, p] as [string, ManagedProcess]),
      ['gateway', this.gateway],
      ['cli pod', this.cliPod],
    ];
    return procs
      .filter(([, p]) => p)
      .map(([name, p]) => {
        const tail = (p as ManagedProcess).output().trimEnd().split('\n').slice(-lines);
        return `--- ${name} (${p?.running ? 'running' : 'exited'}) ---\n${tail.map((l) => l.slice(0, 400)).join('\n')}`;
      })
      .join('\n');
  }

  /** Stops everything this topology started or opened. Idempotent; never throws. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const quietly = (p: Promise<unknown> | undefined) => p?.catch(() => undefined);
      await Promise.all(this.pods.map((p) => quietly(p.close())));
      await quietly(this.cliPod?.stop(3_000));
      await Promise.all(this.conns.map((c) => quietly(c.close())));
      await quietly(this.gateway?.stop(5_000));
      await Promise.all([...this.fetchers.values()].map((f) => quietly(f.stop(5_000))));
      await quietly(this.sim?.close());
      await quietly(this.cluster?.stop());
      if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    })();
    return this.stopping;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
