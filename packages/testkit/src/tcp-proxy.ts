import { createConnection, createServer, type Server, type Socket } from 'node:net';

interface Link {
  client: Socket;
  upstream: Socket;
  dead: boolean;
}

/**
 * A TCP proxy on 127.0.0.1 in front of a target port, able to fake a half-open link: `blackhole()` makes
 * every current connection silently drop all bytes in both directions while staying open (no FIN, no RST),
 * and makes new connections do the same, exactly like a dead network path. `restore()` lets new connections
 * through again; the blackholed ones stay dead until the peer gives up on them.
 */
export class TcpProxy implements AsyncDisposable {
  private readonly server: Server;
  private readonly links = new Set<Link>();
  private holed = false;
  private targetPort: number;
  readonly port: number;

  private constructor(server: Server, port: number, targetPort: number) {
    this.server = server;
    this.port = port;
    this.targetPort = targetPort;
  }

  static async start(targetPort: number): Promise<TcpProxy> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const addr = server.address();
    const proxy = new TcpProxy(server, typeof addr === 'object' && addr ? addr.port : 0, targetPort);
    server.on('connection', (c) => proxy.accept(c));
    return proxy;
  }

  /** `nats://127.0.0.1:<proxy port>` */
  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** Number of connections that currently forward bytes. */
  get liveConnections(): number {
    return [...this.links].filter((l) => !l.dead).length;
  }

  /** Sends new connections to another port (e.g. a restarted server). */
  retarget(port: number): void {
    this.targetPort = port;
  }

  private accept(client: Socket): void {
    const upstream = createConnection({ host: '127.0.0.1', port: this.targetPort });
    const link: Link = { client, upstream, dead: this.holed };
    this.links.add(link);
    const forward = (from: Socket, to: Socket) => {
      from.on('data', (chunk) => {
        if (!link.dead) to.write(chunk);
      });
    };
    forward(client, upstream);
    forward(upstream, client);
    const drop = () => {
      this.links.delete(link);
      client.destroy();
      upstream.destroy();
    };
    // A dead link hides closes too: the peer must find out by itself (pings), as on a real dead path.
    client.on('close', () => (link.dead ? upstream.destroy() : drop()));
    upstream.on('close', () => {
      if (!link.dead) drop();
    });
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
  }

  /** Silently drops all traffic on current and new connections. */
  blackhole(): void {
    this.holed = true;
    for (const l of this.links) l.dead = true;
  }

  /** New connections forward again. */
  restore(): void {
    this.holed = false;
  }

  async close(): Promise<void> {
    for (const l of this.links) {
      l.client.destroy();
      l.upstream.destroy();
    }
    this.links.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
