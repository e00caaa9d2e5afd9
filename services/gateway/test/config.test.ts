import assert from 'node:assert/strict';
import { GatewayConfigError, loadConfig } from '../src/index.js';

describe('gateway configuration', () => {
  it('has documented defaults', () => {
    const c = loadConfig({});
    assert.deepEqual(c.natsServers, ['nats://127.0.0.1:4222']);
    assert.equal(c.port, 8092);
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.ensureTimeoutMs, 10_000);
    assert.equal(c.mirrorDir, undefined);
    assert.deepEqual(c.natsAuth, { kind: 'none' });
    assert.equal(c.upstreamOrigin, 'https://api.octopus.energy');
  });

  it('reads every variable, empty ones as unset', () => {
    const c = loadConfig({
      NATS_URL: 'nats://a:4222, nats://b:4222',
      NATS_USER: 'gw',
      NATS_PASSWORD: 's3cret',
      PORT: '0',
      HOST: '0.0.0.0',
      MIRROR_DIR: '/tmp/m',
      CACHE_DIR: '',
      ENSURE_TIMEOUT_MS: '2500',
      PUBLIC_BASE_URL: 'https://gw.example',
      LOG_LEVEL: 'debug',
    });
    assert.deepEqual(c.natsServers, ['nats://a:4222', 'nats://b:4222']);
    assert.deepEqual(c.natsAuth, { kind: 'user', user: 'gw', pass: 's3cret' });
    assert.equal(c.port, 0);
    assert.equal(c.cacheDir, undefined);
    assert.equal(c.ensureTimeoutMs, 2500);
    assert.equal(c.publicBaseUrl, 'https://gw.example');
  });

  it('reports every problem at once, without echoing secrets', () => {
    try {
      loadConfig({
        PORT: 'eighty',
        ENSURE_TIMEOUT_MS: '-1',
        PUBLIC_BASE_URL: 'ftp://x',
        NATS_CREDS: '/c',
        NATS_PASSWORD: 'hunter2',
        LOG_LEVEL: 'loud',
      });
      assert.fail('should throw');
    } catch (e) {
      assert.ok(e instanceof GatewayConfigError);
      assert.equal(e.code, 'ERR_GATEWAY_CONFIG');
      const paths = e.problems.map((p) => p.split(':')[0]).sort();
      assert.deepEqual(paths, ['ENSURE_TIMEOUT_MS', 'LOG_LEVEL', 'PORT', 'PUBLIC_BASE_URL']);
      assert.ok(!e.message.includes('hunter2'));
    }
  });
});
