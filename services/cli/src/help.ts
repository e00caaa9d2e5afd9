import { readFileSync } from 'node:fs';

export const HELP = `ratebus — inspect and poke a ratebus deployment

Usage:
  ratebus status                              leader, term, every tariff and its freshness
  ratebus get <product> <tariff>              one tariff: summary and freshness (--json: the document)
  ratebus watch [<product> <tariff>]          one line per update until Ctrl-C
  ratebus refresh <product> <tariff> [--force]  ask the leading fetcher for the document now
  ratebus help | --help | --version

Options:
  --json                  machine-readable output (watch: one JSON object per line)
  --force                 refresh: ask upstream even if a fresh document is held
  --timeout <duration>    deadline for connecting, listing the buckets and replies: 500ms, 10s, 2m
                          (a bare number is seconds; default 10s)
  -s, --server <urls>     comma-separated NATS URLs (env NATS_URL; default nats://127.0.0.1:4222)
  --user <name>           NATS user (env NATS_USER); needs --password
  --password <secret>     NATS password (env NATS_PASSWORD; prefer the env, argv is visible to ps)
  --creds <file>          NATS .creds file (env NATS_CREDS); env NATS_TOKEN for a token
  --inbox-prefix <p>      reply inbox prefix (env NATS_INBOX_PREFIX); default _INBOX_inspector for
                          user inspector, _INBOX_fetcher for user fetcher, else _INBOX
  -h, --help              this text
  -V, --version           the CLI's version

Exit codes: 0 ok, 1 error (NATS unreachable, not held, refresh failed, no fetcher), 2 usage.`;

/** The version in this package's package.json (dist/src/help.js → ../../package.json). */
export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version?: unknown;
  };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
}
