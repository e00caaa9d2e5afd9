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
