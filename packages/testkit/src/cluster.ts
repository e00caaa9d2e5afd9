import { check } from './check.js';
import { StartFailedError } from './errors.js';
import { NatsServer, type NatsServerOptions } from './nats-server.js';
import { freePort } from './ports.js';

interface JszMeta {
  meta_cluster?: { leader?: string; cluster_size?: number };
}

export interface ClusterOptions {
  /** Number of nodes. Default 3. */
  size?: number;
  /** Extra configuration text for every node (accounts, authorization ...). */
  extraConfig?: string;
  /** JetStream `sync_interval` of every node (nats-server ≥ 2.10); default the server's. */
  syncInterval?: string;
  /** Cluster name. Default `ratebus-test`. */
  name?: string;
  /** Extra environment for every node (config files may reference `$VARS`). */
  env?: Record<string, string>;
  /** Picks `count` distinct free ports not in `avoid`. Default: ask the OS. For tests of the retry. */
  pickPorts?: (count: number, avoid: readonly number[]) => Promise<number[]>;
}

/**
 * A JetStream cluster on loopback: every node routes to every other, client ports are fixed at start so a
 * killed node can come back on the same address. Waits until all running nodes agree on a meta leader.
 */
export class NatsCluster implements AsyncDisposable {
  readonly nodes: NatsServer[];

  private constructor(nodes: NatsServer[]) {
    this.nodes = nodes;
  }

  /**
   * Starts the nodes and waits for a meta leader. Ports are picked free before the servers start, so another
   * process can take one in between ("address already in use"): then the whole cluster is started again on
   * new ports, up to 3 times.
   */
  static async start(opts: ClusterOptions = {}): Promise<NatsCluster> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await NatsCluster.startOnce(opts);
      } catch (e) {
        if (attempt >= START_ATTEMPTS || !portTaken(e)) throw e;
      }
    }
  }

  private static async startOnce(opts: ClusterOptions): Promise<NatsCluster> {
    const size = opts.size ?? 3;
    const name = opts.name ?? 'ratebus-test';
    const pick = opts.pickPorts ?? distinctPorts;
    const clusterPorts = await pick(size, []);
    const clientPorts = await pick(size, clusterPorts);
    const started = await Promise.allSettled(
      clusterPorts.map((port, i) => {
        const routes = clusterPorts.filter((p) => p !== port).map((p) => `nats-route://127.0.0.1:${p}`);
        const nodeOpts: NatsServerOptions = {
          serverName: `${name}-n${i + 1}`,
          port: clientPorts[i] as number,
          cluster: { name, port, routes },
        };
        if (opts.extraConfig) nodeOpts.extraConfig = opts.extraConfig;
        if (opts.syncInterval) nodeOpts.syncInterval = opts.syncInterval;
        if (opts.env) nodeOpts.env = opts.env;
        return NatsServer.start(nodeOpts);
      }),
    );
    const nodes = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) {
      await Promise.all(nodes.map((n) => n.stop()));
      throw failed.reason;
    }
    const cluster = new NatsCluster(nodes);
    try {
      await cluster.waitForMetaLeader();
    } catch (e) {
      await cluster.stop();
      throw e;
    }
    return cluster;
  }

  /** Client URLs of all nodes, for a connection's `servers` option. */
  get urls(): string[] {
    return this.nodes.map((n) => n.url);
  }

  /** Waits until every running node reports the same meta leader; returns its server name. */
  async waitForMetaLeader(timeout = 30_000): Promise<string> {
    return check(
      async () => {
        const running = this.nodes.filter((n) => n.running);
        const leaders = await Promise.all(
          running.map((n) => n.monitor<JszMeta>('jsz').then((j) => j.meta_cluster?.leader)),
        );
        const first = leaders[0];
        return first && leaders.every((l) => l === first) ? first : undefined;
      },
      { timeout, interval: 200, name: 'JetStream meta leader' },
    );
  }

  /** The node whose server name is `name`. */
  node(name: string): NatsServer {
    const n = this.nodes.find((x) => x.serverName === name);
    if (!n) throw new Error(`no node named ${name}`);
    return n;
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/** Cluster start attempts when a picked port was taken before a server could bind it. */
const START_ATTEMPTS = 3;

function portTaken(e: unknown): boolean {
  return e instanceof StartFailedError && e.output.includes('address already in use');
}

async function distinctPorts(n: number, avoid: readonly number[] = []): Promise<number[]> {
  const out: number[] = [];
  while (out.length < n) {
    const p = await freePort();
    if (!out.includes(p) && !avoid.includes(p)) out.push(p);
  }
  return out;
}
