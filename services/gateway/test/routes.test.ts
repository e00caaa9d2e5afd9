import assert from 'node:assert/strict';
import { matchRoute } from '../src/index.js';

const P = '/v1/products/AGILE-24-10-01';
const T = 'E-1R-AGILE-24-10-01-C';

describe('path routing and code validation', () => {
  it('matches every charge endpoint with or without the trailing slash', () => {
    for (const charge of ['standard-unit-rates', 'day-unit-rates', 'night-unit-rates', 'standing-charges']) {
      for (const slash of ['/', '']) {
        const r = matchRoute(`${P}/electricity-tariffs/${T}/${charge}${slash}`);
        assert.equal(r.kind, 'rates');
        if (r.kind === 'rates') {
          assert.equal(r.charge, charge);
          assert.equal(r.canonicalPath, `${P}/electricity-tariffs/${T}/${charge}/`);
        }
      }
    }
    const gas = matchRoute('/v1/products/VAR-22-11-01/gas-tariffs/G-1R-VAR-22-11-01-A/standing-charges');
    assert.equal(gas.kind, 'rates');
  });

  it('routes the other public GETs to the shared URL cache, validating the product code', () => {
    assert.deepEqual(matchRoute('/v1/products'), {
      kind: 'upstream',
      name: 'products',
      canonicalPath: '/v1/products/',
    });
    assert.deepEqual(matchRoute(`${P}`), { kind: 'upstream', name: 'product', canonicalPath: `${P}/` });
    assert.deepEqual(matchRoute('/v1/industry/grid-supply-points/'), {
      kind: 'upstream',
      name: 'grid-supply-points',
      canonicalPath: '/v1/industry/grid-supply-points/',
    });
    assert.equal(matchRoute('/v1/products/agile-24-10-01/').kind, 'not-found');
  });

  it('rejects traversal, wildcard and malformed codes as not-found', () => {
    const bad = [
      `/v1/products/../electricity-tariffs/${T}/standard-unit-rates/`,
      `/v1/products/%2e%2e/electricity-tariffs/${T}/standard-unit-rates/`,
      `${P}/electricity-tariffs/..%2F..%2Fetc%2Fpasswd/standard-unit-rates/`,
      `${P}/electricity-tariffs/../../etc/passwd`,
      `${P}/electricity-tariffs/*/standard-unit-rates/`,
      `${P}/electricity-tariffs/>/standard-unit-rates/`,
      `${P}/electricity-tariffs/E-1R-AGILE-24-10-01-*/standard-unit-rates/`,
      `/v1/products/AGILE.>/electricity-tariffs/${T}/standard-unit-rates/`,
      `/v1/products/*/`,
      `${P}/electricity-tariffs/E-1R-AGILE-24-10-01-C.x/standard-unit-rates/`,
      `${P}/electricity-tariffs/e-1r-agile-24-10-01-c/standard-unit-rates/`,
      `${P}/electricity-tariffs/E-1R-AGILE-24-10-01-I/standard-unit-rates/`,
      `${P}/electricity-tariffs/E-1R-GO-VAR-22-10-14-C/standard-unit-rates/`,
      `${P}/electricity-tariffs/${T}/unit-rates/`,
      `${P}/electricity-tariffs/${T}/standard-unit-rates/extra/`,
      `${P}//electricity-tariffs/${T}/standard-unit-rates/`,
      `${P}/electricity-tariffs/%E0%A4%A/standard-unit-rates/`,
      `${P}/electricity-tariffs/E-1R-${'A'.repeat(70)}-C/standard-unit-rates/`,
      `/v1/products/VAR-22-11-01/gas-tariffs/G-1R-VAR-22-11-01-A/day-unit-rates/`,
      '/v2/products/',
      '/etc/passwd',
    ];
    for (const path of bad) assert.deepEqual(matchRoute(path), { kind: 'not-found' }, path);
  });

  it('answers a tariff of the other fuel as a tariff that cannot exist', () => {
    assert.deepEqual(
      matchRoute('/v1/products/VAR-22-11-01/gas-tariffs/E-1R-VAR-22-11-01-A/standing-charges/'),
      {
        kind: 'no-such-tariff',
        fuel: 'gas',
      },
    );
    assert.deepEqual(
      matchRoute('/v1/products/VAR-22-11-01/electricity-tariffs/G-1R-VAR-22-11-01-A/standing-charges/'),
      { kind: 'no-such-tariff', fuel: 'electricity' },
    );
  });
});
