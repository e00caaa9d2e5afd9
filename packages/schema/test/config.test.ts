import assert from 'node:assert/strict';
import { DEFAULT_LEASE_DURATION_MS, RatebusConfigSchema, validate } from '../src/index.js';

describe('RatebusConfig', () => {
  it('fills safe defaults for an empty file', () => {
    const r = validate(RatebusConfigSchema, 'config', {});
    assert.ok(r.ok);
    assert.equal(r.value.lease.durationMs, DEFAULT_LEASE_DURATION_MS);
    assert.deepEqual(r.value.tariffs, []);
  });

  it('lists every problem at once', () => {
    const r = validate(RatebusConfigSchema, 'config', {
      tariffs: [
        { product: 'AGILE-24-10-01', tariff: 'E-1R-GO-VAR-22-10-14-A' },
        { product: 'a.b', tariff: '*' },
      ],
      lease: { durationMs: 10_000, renewDeadlineMs: 12_000, retryPeriodMs: 2_000 },
      upstream: { baseUrl: 'ftp://x' },
      typo: true,
    });
    assert.equal(r.ok, false);
    if (r.ok) return;
    const paths = r.error.issues.map((i) => i.path);
    for (const p of [
      'tariffs.0.tariff',
      'tariffs.1.product',
      'tariffs.1.tariff',
      'lease.renewDeadlineMs',
      'upstream.baseUrl',
    ]) {
      assert.ok(paths.includes(p), `missing ${p} in ${paths.join(', ')}`);
    }
    assert.ok(r.error.issues.some((i) => i.code === 'unrecognized_keys'));
  });
});
