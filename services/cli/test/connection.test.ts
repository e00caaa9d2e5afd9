import assert from 'node:assert/strict';
import { natsOptions, resolveConnection, UsageError } from '../src/index.js';

const noFile = (p: string): string => {
  throw Object.assign(new Error(`ENOENT ${p}`), { code: 'ENOENT' });
};
const problemsOf = (f: () => unknown): readonly string[] => {
  try {
    f();
  } catch (e) {
    if (e instanceof UsageError) return e.problems;
    throw e;
  }
  assert.fail('expected a UsageError');
};

describe('resolveConnection', () => {
  it('reads the same environment as the fetcher, with the embedded default server', () => {
    const s = resolveConnection({}, {}, noFile, 'cli');
    assert.deepEqual(s.servers, ['nats://127.0.0.1:4222']);
    assert.deepEqual(s.auth, { kind: 'none' });
    const env = resolveConnection(
      {},
      { NATS_URL: 'nats://a:1, b:2', NATS_USER: 'pod', NATS_PASSWORD: 'pw' },
      noFile,
    );
    assert.deepEqual(env.servers, ['nats://a:1', 'b:2']);
    assert.deepEqual(env.auth, { kind: 'user', user: 'pod', password: 'pw' });
    assert.equal(env.inboxPrefix, undefined);
    assert.deepEqual(resolveConnection({}, { NATS_TOKEN: 'tok' }, noFile).auth, {
      kind: 'token',
      token: 'tok',
    });
    const creds = resolveConnection({}, { NATS_CREDS: '/x.creds' }, () => 'JWT...');
    assert.deepEqual(creds.auth, { kind: 'creds', path: '/x.creds', creds: 'JWT...' });
  });

  it('lets flags override the environment, auth as a whole', () => {
    const s = resolveConnection(
      { server: 'tls://n:4222', user: 'inspector', password: 'pw2' },
      { NATS_URL: 'nats://a:1', NATS_CREDS: '/env.creds', NATS_USER: 'pod' },
      noFile,
    );
    assert.deepEqual(s.servers, ['tls://n:4222']);
    assert.deepEqual(s.auth, { kind: 'user', user: 'inspector', password: 'pw2' });
  });

  it('picks the inbox prefix the accounts config demands for inspector and fetcher', () => {
    const insp = resolveConnection({ user: 'inspector', password: 'p' }, {}, noFile);
    assert.equal(insp.inboxPrefix, '_INBOX_inspector');
    assert.equal(natsOptions(insp, { timeoutMs: 1_000, persistent: false }).inboxPrefix, '_INBOX_inspector');
    assert.equal(
      resolveConnection({}, { NATS_USER: 'fetcher', NATS_PASSWORD: 'p' }, noFile).inboxPrefix,
      '_INBOX_fetcher',
    );
    const explicit = resolveConnection(
      { inboxPrefix: '_INBOX_ops' },
      { NATS_USER: 'inspector', NATS_PASSWORD: 'p' },
      noFile,
    );
    assert.equal(explicit.inboxPrefix, '_INBOX_ops');
  });

  it('reports every problem at once', () => {
    const problems = problemsOf(() =>
      resolveConnection(
        { inboxPrefix: 'bad prefix' },
        { NATS_URL: 'http://x', NATS_USER: 'pod', NATS_CREDS: '/missing.creds', NATS_TOKEN: 't' },
        noFile,
      ),
    );
    assert.equal(problems.length, 6, problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('NATS_URL:')));
    assert.ok(problems.some((p) => /NATS_CREDS conflicts with NATS_USER/.test(p)));
    assert.ok(problems.some((p) => /NATS_TOKEN conflicts/.test(p)));
    assert.ok(problems.some((p) => /NATS_USER and NATS_PASSWORD go together/.test(p)));
    assert.ok(problems.some((p) => /cannot read \/missing\.creds: ENOENT/.test(p)));
    assert.ok(problems.some((p) => p.startsWith('--inbox-prefix:')));
  });

  it('fails one-shot commands fast and lets watch reconnect for ever', () => {
    const s = resolveConnection({}, {}, noFile);
    assert.equal(natsOptions(s, { timeoutMs: 3_000, persistent: false }).maxReconnectAttempts, 0);
    assert.equal(natsOptions(s, { timeoutMs: 3_000, persistent: true }).maxReconnectAttempts, -1);
  });
});
