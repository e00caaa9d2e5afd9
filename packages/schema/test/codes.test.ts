import assert from 'node:assert/strict';
import {
  InvalidCodeError,
  parseRateKey,
  parseTariffCode,
  parseTariffSubject,
  productCode,
  rateKey,
  ratesSubject,
  refreshSubject,
  responderQueue,
  SchemaErrorCode,
  tariffCode,
  tariffRef,
  urlCacheKey,
} from '../src/index.js';

const MALICIOUS = [
  '',
  'AGILE.24',
  'AGILE-*',
  '*',
  '>',
  'AGILE->',
  'AGILE 24',
  ' AGILE',
  'AGILE\t',
  '..',
  'AGILE..24',
  '../etc/passwd',
  'A/B',
  'A\\B',
  'agile-24-10-01',
  'AGILE--24',
  '-AGILE',
  'AGILE-',
  'AGILÉ',
  'AGILE\u0000',
  'A'.repeat(65),
  '$KV',
  '_INBOX',
];

function assertInvalidCode(fn: () => unknown, kind: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof InvalidCodeError, `expected InvalidCodeError, got ${String(e)}`);
    assert.equal(e.code, SchemaErrorCode.InvalidCode);
    assert.equal(e.kind, kind);
    return true;
  });
}

describe('codes', () => {
  it('accepts real product and tariff codes', () => {
    assert.equal(productCode('AGILE-24-10-01'), 'AGILE-24-10-01');
    assert.equal(tariffCode('E-1R-AGILE-24-10-01-C'), 'E-1R-AGILE-24-10-01-C');
    assert.equal(tariffCode('E-FLAT2R-VAR-22-11-01-H'), 'E-FLAT2R-VAR-22-11-01-H');
    assert.deepEqual(parseTariffCode(tariffCode('G-1R-SILVER-26-04-01-H')), {
      fuel: 'gas',
      register: '1R',
      product: 'SILVER-26-04-01',
      region: 'H',
    });
  });

  for (const bad of MALICIOUS) {
    it(`rejects ${JSON.stringify(bad)} as a product and as a tariff, with a typed error`, () => {
      assertInvalidCode(() => productCode(bad), 'product');
      assertInvalidCode(() => tariffCode(`E-1R-${bad}-C`), 'tariff');
    });
  }

  it('rejects non-strings', () => {
    for (const v of [undefined, null, 42, {}, ['AGILE']]) assertInvalidCode(() => productCode(v), 'product');
  });

  it('rejects regions I and O and tariffs of another product', () => {
    assertInvalidCode(() => tariffCode('E-1R-AGILE-24-10-01-I'), 'tariff');
    assertInvalidCode(() => tariffCode('E-1R-AGILE-24-10-01-O'), 'tariff');
    assertInvalidCode(() => tariffCode('X-1R-AGILE-24-10-01-C'), 'tariff');
    assertInvalidCode(() => tariffRef('GO-VAR-22-10-14', 'E-1R-AGILE-24-10-01-C'), 'tariff');
  });

  it('shows rejected values JSON-quoted and cut short, safe to log', () => {
    try {
      productCode(`A\n${'x'.repeat(500)}`);
      assert.fail('should throw');
    } catch (e) {
      assert.ok(e instanceof InvalidCodeError);
      assert.ok(e.value.length <= 80);
      assert.ok(!e.message.includes('\n'));
    }
  });
});

describe('names', () => {
  it('builds keys and subjects per product and tariff', () => {
    assert.equal(rateKey('AGILE-24-10-01', 'E-1R-AGILE-24-10-01-C'), 'AGILE-24-10-01.E-1R-AGILE-24-10-01-C');
    assert.equal(
      ratesSubject('AGILE-24-10-01', 'E-1R-AGILE-24-10-01-C'),
      'ratebus.rates.AGILE-24-10-01.E-1R-AGILE-24-10-01-C',
    );
    assert.equal(
      refreshSubject('AGILE-24-10-01', 'E-1R-AGILE-24-10-01-C'),
      'ratebus.refresh.AGILE-24-10-01.E-1R-AGILE-24-10-01-C',
    );
  });

  it("names a term's responder queue group, one token per term", () => {
    assert.equal(responderQueue(0), 'ratebus-fetchers.0');
    assert.equal(responderQueue(17), 'ratebus-fetchers.17');
    assert.notEqual(responderQueue(17), responderQueue(18));
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => responderQueue(bad), RangeError, String(bad));
    }
  });

  it('parses what it builds and nothing else', () => {
    assert.deepEqual(parseRateKey('AGILE-24-10-01.E-1R-AGILE-24-10-01-C'), {
      product: 'AGILE-24-10-01',
      tariff: 'E-1R-AGILE-24-10-01-C',
    });
    assert.deepEqual(parseTariffSubject('ratebus.refresh.GO-VAR-22-10-14.E-1R-GO-VAR-22-10-14-A'), {
      kind: 'refresh',
      product: 'GO-VAR-22-10-14',
      tariff: 'E-1R-GO-VAR-22-10-14-A',
    });
    for (const k of ['AGILE-24-10-01', 'A.B.C', 'AGILE-24-10-01.*', 'AGILE-24-10-01.>', '.E-1R-X-C', 'a.b']) {
      assert.throws(() => parseRateKey(k), InvalidCodeError);
    }
    assert.throws(() => parseTariffSubject('ratebus.rates.AGILE-24-10-01.>'), InvalidCodeError);
    assert.throws(
      () => parseTariffSubject('other.rates.AGILE-24-10-01.E-1R-AGILE-24-10-01-C'),
      InvalidCodeError,
    );
  });

  it('refuses to build names from malicious codes', () => {
    for (const bad of MALICIOUS) {
      assert.throws(() => rateKey(bad, 'E-1R-AGILE-24-10-01-C'), InvalidCodeError);
      assert.throws(() => ratesSubject('AGILE-24-10-01', bad), InvalidCodeError);
    }
  });

  it('accepts only sha256 hex as URL cache keys', () => {
    assert.equal(urlCacheKey('a'.repeat(64)), 'a'.repeat(64));
    assert.throws(() => urlCacheKey('A'.repeat(64)), InvalidCodeError);
    assert.throws(() => urlCacheKey('../x'), InvalidCodeError);
  });
});
