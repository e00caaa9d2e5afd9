import assert from 'node:assert/strict';
import {
  DEFAULT_LEASE_DURATION_MS,
  DEFAULT_LIMITS,
  DEFAULT_OCTOPUS_BASE_URL,
  DEFAULT_RENEW_DEADLINE_MS,
  DEFAULT_RETRY_PERIOD_MS,
} from '@ratebus/schema';
import {
  DEFAULT_METRICS_HOST,
  DEFAULT_METRICS_PORT,
  DEFAULT_NATS_URL,
  type Env,
  loadConfig,
  type ReadFile,
} from '../src/config.js';
import { ConfigError, FetcherErrorCode } from '../src/errors.js';

/** Files by path; anything else is ENOENT, as from fs.readFileSync. */
function files(map: Record<string, string>): ReadFile {
  return (path) => {
    const text = map[path];
    if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
    return text;
  };
}

function configError(env: Env, read: ReadFile = files({})): ConfigError {
  try {
    loadConfig(env, read);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    assert.equal(e.code, FetcherErrorCode.Config);
    return e;
  }
  assert.fail('expected a ConfigError');
}

const sources = (e: ConfigError) => e.issues.map((i) => i.source).sort();

describe('Fetcher config', () => {
  it('has safe defaults with no file and no environment', () => {
    const c = loadConfig({}, files({}), { fetcherId: 'host-1' });
    assert.deepEqual(c.nats.servers, [DEFAULT_NATS_URL]);
    assert.deepEqual(c.nats.auth, { kind: 'none' });
    assert.equal(c.metrics.port, DEFAULT_METRICS_PORT);
    assert.equal(c.metrics.host, DEFAULT_METRICS_HOST);
    assert.equal(c.fetcherId, 'host-1');
    assert.equal(c.replicas, 1);
    assert.equal(c.logLevel, 'info');
    assert.equal(c.configPath, null);
    assert.deepEqual(c.ratebus.lease, {
      durationMs: DEFAULT_LEASE_DURATION_MS,
      renewDeadlineMs: DEFAULT_RENEW_DEADLINE_MS,
      retryPeriodMs: DEFAULT_RETRY_PERIOD_MS,
    });
    assert.equal(c.ratebus.upstream.baseUrl, DEFAULT_OCTOPUS_BASE_URL);
    assert.deepEqual(c.ratebus.tariffs, []);
  });

  it('defaults the fetcher id to hostname-pid', () => {
    const c = loadConfig({}, files({}));
    assert.match(c.fetcherId, new RegExp(`-${process.pid}$`));
  });

  it('reads the YAML file and lets the environment override it', () => {
    const yaml = [
      'tariffs:',
      '  - { product: AGILE-24-10-01, tariff: E-1R-AGILE-24-10-01-C }',
      'lease: { durationMs: 5000, renewDeadlineMs: 3000, retryPeriodMs: 500 }',
      'upstream: { baseUrl: "https://file.example", requestsPerMinute: 30 }',
    ].join('\n');
    const c = loadConfig(
      {
        RATEBUS_CONFIG: '/etc/ratebus.yaml',
        NATS_URL: 'nats://a:4222, b:4223,tls://c:4224',
        OCTOPUS_BASE_URL: 'http://127.0.0.1:8091',
        METRICS_PORT: '0',
        METRICS_HOST: '0.0.0.0',
        FETCHER_ID: 'fetcher-a',
        RATEBUS_REPLICAS: '3',
        LOG_LEVEL: 'debug',
        NATS_PING_INTERVAL_MS: '1000',
      },
      files({ '/etc/ratebus.yaml': yaml }),
    );
    assert.equal(c.configPath, '/etc/ratebus.yaml');
    assert.deepEqual(c.nats.servers, ['nats://a:4222', 'b:4223', 'tls://c:4224']);
    assert.equal(c.nats.pingIntervalMs, 1000);
    assert.equal(c.ratebus.upstream.baseUrl, 'http://127.0.0.1:8091');
    assert.equal(c.ratebus.upstream.requestsPerMinute, 30, 'other upstream keys kept');
    assert.deepEqual(c.ratebus.lease, { durationMs: 5000, renewDeadlineMs: 3000, retryPeriodMs: 500 });
    assert.equal(c.ratebus.tariffs.length, 1);
    assert.equal(c.metrics.port, 0);
    assert.equal(c.metrics.host, '0.0.0.0');
    assert.equal(c.fetcherId, 'fetcher-a');
    assert.equal(c.replicas, 3);
    assert.equal(c.logLevel, 'debug');
  });

  it('takes credentials as user/password, a token, or a creds file', () => {
    assert.deepEqual(loadConfig({ NATS_USER: 'u', NATS_PASSWORD: 'p' }, files({})).nats.auth, {
      kind: 'user',
      user: 'u',
      password: 'p',
    });
    assert.deepEqual(loadConfig({ NATS_TOKEN: 't' }, files({})).nats.auth, { kind: 'token', token: 't' });
    assert.deepEqual(loadConfig({ NATS_CREDS: '/c.creds' }, files({ '/c.creds': 'JWT' })).nats.auth, {
      kind: 'creds',
      path: '/c.creds',
      creds: 'JWT',
    });
  });

  it('treats empty variables as unset', () => {
    const c = loadConfig({ NATS_URL: '', METRICS_PORT: ' ', RATEBUS_CONFIG: '' }, files({}));
    assert.deepEqual(c.nats.servers, [DEFAULT_NATS_URL]);
    assert.equal(c.metrics.port, DEFAULT_METRICS_PORT);
    assert.equal(c.configPath, null);
  });

  it('lists every problem at once, from the environment and the file', () => {
    const yaml = [
      'lease: { durationMs: 6000, renewDeadlineMs: 7000, retryPeriodMs: 300 }',
      'schedule: { windowDays: 0 }',
      'tariffs: [{ product: AGILE-24-10-01, tariff: E-1R-GO-VAR-22-10-14-C }]',
      'typo: 1',
    ].join('\n');
    const e = configError(
      {
        RATEBUS_CONFIG: '/r.yaml',
        NATS_URL: 'http://wrong:80',
        METRICS_PORT: '70000',
        RATEBUS_REPLICAS: 'three',
        LOG_LEVEL: 'loud',
        FETCHER_ID: 'has space',
        OCTOPUS_BASE_URL: 'ftp://nope',
      },
      files({ '/r.yaml': yaml }),
    );
    assert.deepEqual(sources(e), [
      'env:FETCHER_ID',
      'env:LOG_LEVEL',
      'env:METRICS_PORT',
      'env:NATS_URL',
      'env:OCTOPUS_BASE_URL',
      'env:RATEBUS_REPLICAS',
      'file:(root)',
      'file:lease.renewDeadlineMs',
      'file:schedule.windowDays',
      'file:tariffs.0.tariff',
    ]);
    for (const i of e.issues) assert.ok(e.message.includes(i.source), `message names ${i.source}`);
  });

  it('bounds what pods can make the leader do, with defaults, file values and environment overrides', () => {
    assert.deepEqual(loadConfig({}, files({})).ratebus.limits, DEFAULT_LIMITS);
    const yaml = 'limits: { maxTrackedTariffs: 40, urlMissesPerMinute: 5 }';
    const c = loadConfig(
      {
        RATEBUS_CONFIG: '/r.yaml',
        RATEBUS_MAX_TRACKED_TARIFFS: '25',
        RATEBUS_RESERVED_BUDGET_PERCENT: '50',
        RATEBUS_REFRESH_TARIFF_INTERVAL_MS: '120000',
        RATEBUS_REFRESH_UPSTREAM_PER_MINUTE: '7',
        RATEBUS_URL_MAX_VALUE_BYTES: '65536',
      },
      files({ '/r.yaml': yaml }),
    );
    assert.deepEqual(c.ratebus.limits, {
      maxTrackedTariffs: 25,
      reservedBudgetPercent: 50,
      refreshTariffIntervalMs: 120_000,
      refreshUpstreamPerMinute: 7,
      urlMissesPerMinute: 5,
      urlMaxValueBytes: 65_536,
    });
  });

  it('names the variable or file key of every limit out of range', () => {
    const e = configError(
      {
        RATEBUS_CONFIG: '/r.yaml',
        RATEBUS_RESERVED_BUDGET_PERCENT: '95',
        RATEBUS_URL_MISSES_PER_MINUTE: 'lots',
        RATEBUS_URL_MAX_VALUE_BYTES: '10',
      },
      files({ '/r.yaml': 'limits: { refreshUpstreamPerMinute: 0, maxTrackedTariffs: -1 }' }),
    );
    assert.deepEqual(sources(e), [
      'env:RATEBUS_RESERVED_BUDGET_PERCENT',
      'env:RATEBUS_URL_MAX_VALUE_BYTES',
      'env:RATEBUS_URL_MISSES_PER_MINUTE',
      'file:limits.maxTrackedTariffs',
      'file:limits.refreshUpstreamPerMinute',
    ]);
  });

  it('reports an unreadable config file, invalid YAML and an unreadable creds file', () => {
    assert.deepEqual(
      sources(configError({ RATEBUS_CONFIG: '/missing.yaml', NATS_CREDS: '/missing.creds' })),
      ['env:NATS_CREDS', 'env:RATEBUS_CONFIG'],
    );
    assert.deepEqual(sources(configError({ RATEBUS_CONFIG: '/bad.yaml' }, files({ '/bad.yaml': 'a: [' }))), [
      'file:/bad.yaml',
    ]);
    assert.deepEqual(sources(configError({ RATEBUS_CONFIG: '/list.yaml' }, files({ '/list.yaml': '- 1' }))), [
      'file:/list.yaml',
    ]);
  });

  it('rejects conflicting ways to authenticate', () => {
    const creds = files({ '/c.creds': 'JWT' });
    assert.deepEqual(
      sources(configError({ NATS_CREDS: '/c.creds', NATS_USER: 'u', NATS_PASSWORD: 'p' }, creds)),
      ['env:NATS_CREDS'],
    );
    assert.deepEqual(sources(configError({ NATS_CREDS: '/c.creds', NATS_TOKEN: 't' }, creds)), [
      'env:NATS_CREDS',
    ]);
    assert.deepEqual(sources(configError({ NATS_TOKEN: 't', NATS_USER: 'u', NATS_PASSWORD: 'p' })), [
      'env:NATS_TOKEN',
    ]);
    assert.deepEqual(sources(configError({ NATS_USER: 'u' })), ['env:NATS_PASSWORD']);
    assert.deepEqual(sources(configError({ NATS_PASSWORD: 'p' })), ['env:NATS_USER']);
  });
});
