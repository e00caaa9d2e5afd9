import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';

export interface HttpServerOptions {
  /** Port; 0 picks an ephemeral one (the caller decides whether 0 means "off"). */
  port: number;
  /** Interface. Default 127.0.0.1. */
  host?: string;
  registry: Registry;
  /** Liveness: the process runs and NATS is connected. */
  healthy(): { ok: boolean; detail: Record<string, unknown> };
  /** Readiness: buckets are bound and the elector is running. */
  ready(): { ok: boolean; detail: Record<string, unknown> };
  logger?: Logger;
}

export interface HttpServerHandle extends AsyncDisposable {
  readonly port: number;
  /** Stops accepting and closes idle connections. Idempotent. */
  close(): Promise<void>;
}

/** `/metrics` (Prometheus text), `/healthz`, `/readyz` (JSON, 200 or 503); 404 for anything else. */
export async function startHttpServer(opts: HttpServerOptions): Promise<HttpServerHandle> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const json = (r: { ok: boolean; detail: Record<string, unknown> }) => {
      const body = JSON.stringify({ status: r.ok ? 'ok' : 'unavailable', ...r.detail });
      res.writeHead(r.ok ? 200 : 503, { 'content-type': 'application/json' }).end(body);
    };
    switch (path) {
      case '/metrics':
        opts.registry.metrics().then(
          (text) => {
            res.writeHead(200, { 'content-type': opts.registry.contentType }).end(text);
          },
          (err: unknown) => {
            opts.logger?.error({ err }, 'collecting metrics failed');
            res.writeHead(500).end();
          },
        );
        return;
      case '/healthz':
        json(opts.healthy());
        return;
      case '/readyz':
        json(opts.ready());
        return;
      default:
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
    return closing;
  };
  return { port, close, [Symbol.asyncDispose]: close };
}
