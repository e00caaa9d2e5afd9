import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SimRequestError } from './errors.js';

/** A complete answer, built before anything is written so that faults can cut or replace it. */
export interface SimResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Headers the real API sends on every REST answer (docs/octopus-api.md §1.4). */
export const REST_HEADERS: Readonly<Record<string, string>> = {
  'cache-control': 'max-age=300',
  vary: 'Accept, Authorization, Cookie, Origin',
  'access-control-allow-origin': '*',
  allow: 'GET, HEAD, OPTIONS',
  'x-frame-options': 'DENY',
};

export function json(status: number, body: unknown, extra: Record<string, string> = {}): SimResponse {
  return {
    status,
    headers: { ...REST_HEADERS, 'content-type': 'application/json', ...extra },
    body: JSON.stringify(body),
  };
}

export function html(status: number, body: string, extra: Record<string, string> = {}): SimResponse {
  return { status, headers: { 'content-type': 'text/html', ...extra }, body };
}

/** Django's production 404 page for a URL that matches no route. */
export function djangoNotFound(path: string): SimResponse {
  const safe = path.replace(/[<>&"]/g, '');
  return html(
    404,
    `<!doctype html>\n<html lang="en">\n<head>\n  <title>Not Found</title>\n</head>\n<body>\n  <h1>Not Found</h1><p>The requested resource <code>${safe}</code> was not found on this server.</p>\n</body>\n</html>\n`,
  );
}

export function nginxError(status: 502 | 504): SimResponse {
  const title = status === 502 ? '502 Bad Gateway' : '504 Gateway Time-out';
  return html(
    status,
    `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`,
    { server: 'nginx' },
  );
}

/** Largest request body accepted (GraphQL and admin), bytes. */
export const MAX_BODY_BYTES = 1 << 20;

/** The request body as text; rejects with {@link SimRequestError} beyond {@link MAX_BODY_BYTES}. */
export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new SimRequestError(['body too large']));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Writes a complete answer (headers only for HEAD). */
export function send(res: ServerResponse, r: SimResponse, head: boolean): void {
  const body = Buffer.from(r.body, 'utf8');
  res.writeHead(r.status, { ...r.headers, 'content-length': String(body.length) });
  res.end(head ? undefined : body);
}

/** The real API's 500 body, with fresh correlation and error ids. */
export function serverError(): SimResponse {
  const hex = (n: number) => randomBytes(n).toString('hex');
  return json(500, { detail: 'Server error.', correlation_id: `1-${hex(4)}-${hex(12)}`, error_id: hex(16) });
}
