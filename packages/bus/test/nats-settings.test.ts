import assert from 'node:assert/strict';
import { DEFAULT_NATS_URL } from '@ratebus/schema';
import {
  NATS_ENV,
  type NatsSettingsResult,
  natsConnectionOptions,
  natsEnvInput,
  parseNatsSettings,
} from '../src/index.js';

/** Files by path; anything else is ENOENT, as from fs.readFileSync. */
const files =
  (map: Record<string, string>) =>
  (path: string): string => {
    const text = map[path];
    if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
    return text;
  };
const fromEnv = (env: Record<string, string>, read = files({})): NatsSettingsResult =>
  parseNatsSettings(natsEnvInput(env), read);
const variables = (r: NatsSettingsResult): string[] => (r.ok ? [] : r.issues.map((i) => i.variable).sort());

describe('NATS settings', () => {
  it('defaults to the embedded server without a login, empty variables as unset', () => {
    const r = fromEnv({ NATS_URL: ' ', NATS_USER: '' });
    assert.ok(r.ok);
    assert.deepEqual(r.settings, {
      servers: [DEFAULT_NATS_URL],
      auth: { kind: 'none' },
      inboxPrefix: undefined,
    });
  });

  it('reads servers and each login method', () => {
    const r = fromEnv({ NATS_URL: 'nats://a:1, b:2,tls://c:3', NATS_USER: 'u', NATS_PASSWORD: 'p' });
    assert.ok(r.ok);
    assert.deepEqual(r.settings.servers, ['nats://a:1', 'b:2', 'tls://c:3']);
    assert.deepEqual(r.settings.auth, { kind: 'user', user: 'u', password: 'p' });
    const token = fromEnv({ NATS_TOKEN: 't' });
    assert.ok(token.ok);
    assert.deepEqual(token.settings.auth, { kind: 'token', token: 't' });
    const creds = fromEnv({ NATS_CREDS: '/c.creds' }, files({ '/c.creds': 'JWT' }));
    assert.ok(creds.ok);
    assert.deepEqual(creds.settings.auth, { kind: 'creds', path: '/c.creds', creds: 'JWT' });
  });

  it('names the variable of every problem, all at once', () => {
    assert.deepEqual(variables(fromEnv({ NATS_URL: 'http://x:80' })), ['NATS_URL']);
    assert.deepEqual(variables(fromEnv({ NATS_USER: 'u' })), ['NATS_PASSWORD']);
    assert.deepEqual(variables(fromEnv({ NATS_PASSWORD: 'p' })), ['NATS_USER']);
    assert.deepEqual(variables(fromEnv({ NATS_CREDS: '/missing' })), ['NATS_CREDS']);
    assert.deepEqual(variables(fromEnv({ NATS_CREDS: '/e' }, files({ '/e': ' \n' }))), ['NATS_CREDS']);
    const all = fromEnv({ NATS_URL: 'http://x', NATS_USER: 'u', NATS_CREDS: '/missing', NATS_TOKEN: 't' });
    // creds beside a user and a token (one problem), token beside a user, user without password, unreadable.
    assert.deepEqual(variables(all), ['NATS_CREDS', 'NATS_CREDS', 'NATS_PASSWORD', 'NATS_TOKEN', 'NATS_URL']);
    assert.ok(!all.ok && all.issues.every((i) => i.message.includes(i.variable)));
  });

  it('allows one login method only: each conflict is reported once, on the stronger method', () => {
    const creds = files({ '/c': 'JWT' });
    assert.deepEqual(variables(fromEnv({ NATS_CREDS: '/c', NATS_USER: 'u', NATS_PASSWORD: 'p' }, creds)), [
      'NATS_CREDS',
    ]);
    assert.deepEqual(variables(fromEnv({ NATS_CREDS: '/c', NATS_TOKEN: 't' }, creds)), ['NATS_CREDS']);
    assert.deepEqual(variables(fromEnv({ NATS_TOKEN: 't', NATS_USER: 'u', NATS_PASSWORD: 'p' })), [
      'NATS_TOKEN',
    ]);
  });

  it('reads the inbox prefix only when asked, and names settings by the labels given', () => {
    assert.equal(natsEnvInput({ NATS_INBOX_PREFIX: '_INBOX_x' }).inboxPrefix, undefined);
    const input = natsEnvInput({ NATS_INBOX_PREFIX: 'bad prefix' }, ['inboxPrefix']);
    const r = parseNatsSettings(input, files({}), { ...NATS_ENV, inboxPrefix: '--inbox-prefix' });
    assert.deepEqual(variables(r), ['--inbox-prefix']);
  });
});

describe('natsConnectionOptions', () => {
  it('logs in as the settings say and takes the rest from the profile', () => {
    const o = natsConnectionOptions(
      { servers: ['nats://a:1'], auth: { kind: 'user', user: 'u', password: 'p' } },
      { name: 'n', maxReconnectAttempts: -1, pingIntervalMs: 1_000, maxPingOut: 2, inboxPrefix: '_INBOX_f' },
    );
    assert.deepEqual(o, {
      servers: ['nats://a:1'],
      name: 'n',
      maxReconnectAttempts: -1,
      pingInterval: 1_000,
      maxPingOut: 2,
      inboxPrefix: '_INBOX_f',
      user: 'u',
      pass: 'p',
    });
    const token = natsConnectionOptions(
      { servers: 'nats://a:1', auth: { kind: 'token', token: 't' }, inboxPrefix: '_INBOX_own' },
      { maxReconnectAttempts: 0, inboxPrefix: '_INBOX_f' },
    );
    assert.equal(token.token, 't');
    assert.equal(token.inboxPrefix, '_INBOX_own', "the settings' prefix wins over the profile's");
    assert.equal(token.servers, 'nats://a:1');
  });
});
