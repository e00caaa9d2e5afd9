import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';

export interface ProbesServerOptions {
  /** Port; 0 picks an ephemeral one (the caller decides whether 0 means "off"). */
  port: number;
  /** Interface. Default 127.0.0.1. */
  host?: string;
  registry: Registry;
  /**
   * Liveness (`/livez`, and `/healthz` for compatibility): fails only when the process is wedged (event loop
   * stalled, fatal state). Never fails because NATS is away: a restart would not bring it back.
   */
  live(): ProbeResult;
  /** Readiness (`/readyz`): NATS connected, buckets bound, the elector running (able to work or take over). */
  ready(): ProbeResult;
  logger?: Logger;
}

/** A probe's answer: 200 when ok, else 503; `detail` goes into the JSON body. */
export interface ProbeResult {
  ok: boolean;
  detail: Record<string, unknown>;
}

export interface ProbesServerHandle extends AsyncDisposable {
  readonly port: number;
  /** Stops accepting and closes idle connections. Idempotent. */
  close(): Promise<void>;
}

/**
 * `/metrics` (Prometheus text), `/livez` = `/healthz` (liveness) and `/readyz` (readiness), both JSON, 200 or
 * 503; 404 for anything else.
 */
export async function startProbesServer(opts: ProbesServerOptions): Promise<ProbesServerHandle> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const json = (r: ProbeResult) => {
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
      case '/livez':
      case '/healthz':
        json(opts.live());
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
