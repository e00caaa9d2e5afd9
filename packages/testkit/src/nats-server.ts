import { spawnSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { check } from './check.js';
import { NatsServerMissingError, StartFailedError } from './errors.js';
import { ManagedProcess } from './process.js';

/** Path of the `nats-server` binary: `NATS_SERVER_BIN`, else the first on PATH. Throws when missing. */
export function natsServerBinary(): string {
  const explicit = process.env.NATS_SERVER_BIN;
  const candidates = explicit
    ? [explicit]
    : (process.env.PATH ?? '').split(delimiter).map((dir) => join(dir, 'nats-server'));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // try the next one
    }
  }
  throw new NatsServerMissingError(explicit ?? 'nats-server');
}

/** `[major, minor, patch]` of the `nats-server` that {@link natsServerBinary} finds (`--version`). */
export function natsServerVersion(binary = natsServerBinary()): [number, number, number] {
  const out = spawnSync(binary, ['--version'], { encoding: 'utf8' });
  const m = /v(\d+)\.(\d+)\.(\d+)/.exec(`${out.stdout}${out.stderr}`);
  if (!m)
    throw new StartFailedError(binary, `no version in its --version output: ${out.stdout}${out.stderr}`, '');
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

export interface ClusterSettings {
  name: string;
  /** Cluster listen port on 127.0.0.1. */
  port: number;
  /** Route URLs of the other members. */
  routes: readonly string[];
}

export interface NatsServerOptions {
  /** `server_name`; default `n-<random>`. */
  serverName?: string;
  /** Enable JetStream with a store in the server's temp dir. Default true. */
  jetstream?: boolean;
  /** Client port; default -1 (ephemeral, read back from the ports file). */
  port?: number;
  /** Monitoring port; default -1. */
  httpPort?: number;
  cluster?: ClusterSettings;
  /**
   * JetStream `sync_interval` (nats-server ≥ 2.10): how often the store is fsynced, e.g. `always` or `2m`.
   * Default: unset, the server's own default (2 minutes).
   */
  syncInterval?: string;
  /** Extra configuration text (accounts, authorization, TLS ...) appended to the generated file. */
  extraConfig?: string;
  /** Verbose server logging (-DV). Default false. */
  debug?: boolean;
  /** Extra environment for the server process (config files may reference `$VARS`). */
  env?: Record<string, string>;
}

interface PortsFile {
  nats?: string[];
  monitoring?: string[];
  cluster?: string[];
}

const portOf = (url: string | undefined): number => Number(new URL(url ?? 'x://h:0').port);

/**
 * A real `nats-server` on loopback, in its own temp dir (config, ports file, JetStream store). Ports are
 * ephemeral unless given, and read back from the server's ports file. Restart keeps the ports (or picks new
 * ones) and the store, so JetStream state survives.
 */
export class NatsServer implements AsyncDisposable {
  readonly dir: string;
  readonly serverName: string;
  private opts: NatsServerOptions;
  private proc: ManagedProcess | null = null;
  private ports: { client: number; http: number; cluster: number | null } = {
    client: 0,
    http: 0,
    cluster: null,
  };

  private constructor(opts: NatsServerOptions) {
    this.opts = { ...opts };
    this.serverName = opts.serverName ?? `n-${Math.random().toString(36).slice(2, 8)}`;
    this.dir = mkdtempSync(join(tmpdir(), `ratebus-nats-${this.serverName}-`));
  }

  /** Starts a server and waits until it accepts clients (and JetStream is up when enabled). */
  static async start(opts: NatsServerOptions = {}): Promise<NatsServer> {
    const binary = natsServerBinary();
    const server = new NatsServer(opts);
    try {
      await server.launch(binary, opts.port ?? -1, opts.httpPort ?? -1);
    } catch (e) {
      await server.stop();
      throw e;
    }
    return server;
  }

  /** `nats://127.0.0.1:<port>` */
  get url(): string {
    return `nats://127.0.0.1:${this.ports.client}`;
  }
  get port(): number {
    return this.ports.client;
  }
  get httpPort(): number {
    return this.ports.http;
  }
  get clusterPort(): number | null {
    return this.ports.cluster;
  }
  get pid(): number {
    return this.proc?.pid ?? -1;
  }
  get running(): boolean {
    return this.proc?.running ?? false;
  }
  get storeDir(): string {
    return join(this.dir, 'jetstream');
  }
  /** The server's own log so far (bounded). */
  output(): string {
    return this.proc?.output() ?? '';
  }

  private configText(port: number, httpPort: number): string {
    const o = this.opts;
    const lines = [
      `server_name: ${JSON.stringify(this.serverName)}`,
      `listen: "127.0.0.1:${port}"`,
      `http: "127.0.0.1:${httpPort}"`,
      `ports_file_dir: ${JSON.stringify(this.dir)}`,
    ];
    if (o.jetstream !== false) {
      lines.push(
        `jetstream { store_dir: ${JSON.stringify(this.storeDir)}, max_memory_store: 256MB, max_file_store: 2GB${
          o.syncInterval ? `, sync_interval: ${o.syncInterval}` : ''
        } }`,
      );
    }
    if (o.cluster) {
      const routes = o.cluster.routes.map((r) => JSON.stringify(r)).join(', ');
      lines.push(
        `cluster { name: ${JSON.stringify(o.cluster.name)}, listen: "127.0.0.1:${o.cluster.port}", routes: [${routes}] }`,
      );
    }
    if (o.extraConfig) lines.push(o.extraConfig);
    return `${lines.join('\n')}\n`;
  }

  private async launch(binary: string, port: number, httpPort: number): Promise<void> {
    const conf = join(this.dir, 'server.conf');
    writeFileSync(conf, this.configText(port, httpPort));
    const args = ['-c', conf];
    if (this.opts.debug) args.push('-DV');
    this.proc = await ManagedProcess.start({
      name: `nats-server ${this.serverName}`,
      command: binary,
      args,
      env: { ...process.env, ...this.opts.env },
    });
    const proc = this.proc;
    const portsPath = join(this.dir, `nats-server_${proc.pid}.ports`);
    const ports = await check(
      () => {
        // An exit ends the wait at once (check() would take a thrown error for "not yet").
        if (!proc.running) return 'exited' as const;
        return JSON.parse(readFileSync(portsPath, 'utf8')) as PortsFile;
      },
      { timeout: 10_000, name: `${proc.name} ports file` },
    ).catch((e: unknown) => {
      throw new StartFailedError(proc.name, 'no ports file within 10 s', proc.output(), { cause: e });
    });
    if (ports === 'exited') throw new StartFailedError(proc.name, 'exited', proc.output());
    this.ports = {
      client: portOf(ports.nats?.[0]),
      http: portOf(ports.monitoring?.[0]),
      cluster: this.opts.cluster ? this.opts.cluster.port : null,
    };
    await check(() => this.healthy(), { timeout: 15_000, name: `${proc.name} /healthz` }).catch(
      (e: unknown) => {
        throw new StartFailedError(proc.name, 'not healthy within 15 s', proc.output(), { cause: e });
      },
    );
  }

  private async healthy(): Promise<boolean> {
    if (!this.proc?.running)
      throw new StartFailedError(this.proc?.name ?? 'nats-server', 'exited', this.output());
    const res = await fetch(`http://127.0.0.1:${this.ports.http}/healthz`);
    await res.arrayBuffer();
    // A clustered JetStream node reports unhealthy until it has joined the meta group; that is awaited
    // separately, so here any answer from the monitoring port means the client port is open.
    return this.opts.cluster ? true : res.ok;
  }

  /** GET a monitoring endpoint (`varz`, `jsz`, `connz`, `routez`, ...) as JSON. */
  async monitor<T = Record<string, unknown>>(endpoint: string): Promise<T> {
    const res = await fetch(`http://127.0.0.1:${this.ports.http}/${endpoint}`);
    if (!res.ok) throw new Error(`${endpoint}: HTTP ${res.status}`);
    return (await res.json()) as T;
  }

  /** Sends a signal and waits for the exit (SIGKILL by default: a crash). */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await this.proc?.kill(signal);
  }

  /** SIGSTOP: the server keeps its sockets open but stops answering. */
  pause(): void {
    this.proc?.pause();
  }

  /** SIGCONT after {@link pause}. */
  resume(): void {
    this.proc?.resume();
  }

  /**
   * Starts the server again with the same store. By default on the same ports; with `newPorts: true` on
   * fresh ephemeral ones (clients must then be told the new URL).
   */
  async restart(opts: { newPorts?: boolean } = {}): Promise<void> {
    await this.proc?.stop();
    const port = opts.newPorts ? -1 : this.ports.client;
    const http = opts.newPorts ? -1 : this.ports.http;
    await this.launch(natsServerBinary(), port, http);
  }

  /** Stops the server (SIGTERM, then SIGKILL) and removes its temp dir. Idempotent. */
  async stop(): Promise<void> {
    await this.proc?.stop(3_000);
    rmSync(this.dir, { recursive: true, force: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
