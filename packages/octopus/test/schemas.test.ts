import assert from 'node:assert/strict';
import { findProductTariff, ProductDetailSchema, RatesPageSchema } from '../src/index.js';

const API = 'https://api.octopus.energy';
const link = (href: string, rel: string) => ({ href: `${API}${href}`, method: 'GET', rel });

function tariff(code: string, rels: string[]) {
  const base = `/v1/products/P/electricity-tariffs/${code}`;
  return {
    code,
    standing_charge_exc_vat: 30.01,
    standing_charge_inc_vat: 31.5105,
    online_discount_exc_vat: 0,
    exit_fees_type: 'NONE',
    links: rels.map((r) => link(`${base}/${r.replaceAll('_', '-')}/`, r)),
    standard_unit_rate_exc_vat: 15.04,
    standard_unit_rate_inc_vat: 15.792,
  };
}

function detail() {
  return {
    code: 'VAR-22-11-01',
    full_name: 'Flexible Octopus November 2022 v1',
    display_name: 'Flexible Octopus',
    description: 'Flexible',
    is_variable: true,
    is_green: false,
    is_tracker: false,
    is_prepay: false,
    is_business: false,
    is_restricted: false,
    term: null,
    available_from: '2022-11-01T00:00:00Z',
    available_to: null,
    tariffs_active_at: '2024-06-23T00:24:55.986143Z',
    single_register_electricity_tariffs: {
      _A: { varying: tariff('E-1R-VAR-22-11-01-A', ['standing_charges', 'standard_unit_rates']) },
    },
    dual_register_electricity_tariffs: {
      _A: {
        varying: tariff('E-2R-VAR-22-11-01-A', ['standing_charges', 'day_unit_rates', 'night_unit_rates']),
      },
    },
    single_register_gas_tariffs: {},
    sample_quotes: {},
    sample_consumption: {},
    links: [link('/v1/products/VAR-22-11-01/', 'self')],
    brand: 'OCTOPUS_ENERGY',
  };
}

describe('ProductDetailSchema', () => {
  it('accepts a captured-shape detail and indexes links by rel', () => {
    const d = ProductDetailSchema.parse(detail());
    assert.equal(d.linksByRel.self, `${API}/v1/products/VAR-22-11-01/`);
    const t = d.dual_register_electricity_tariffs._A?.varying;
    assert.ok(t?.linksByRel.day_unit_rates?.endsWith('/day-unit-rates/'));
  });

  it('finds a tariff in whichever map holds it, with its payment key', () => {
    const d = ProductDetailSchema.parse(detail());
    const dual = findProductTariff(d, 'E-2R-VAR-22-11-01-A');
    assert.equal(dual?.kind, 'dual-register');
    assert.equal(dual?.paymentKey, 'varying');
    assert.equal(dual?.regionKey, '_A');
    assert.equal(findProductTariff(d, 'E-1R-VAR-22-11-01-A')?.kind, 'single-register');
    assert.equal(findProductTariff(d, 'E-1R-VAR-22-11-01-B'), null);
  });

  it('rejects region keys that are not GSP groups', () => {
    const d = detail() as Record<string, unknown>;
    d.single_register_gas_tariffs = { _I: {} };
    assert.equal(ProductDetailSchema.safeParse(d).success, false);
  });

  it('rejects a tariff without links or code', () => {
    const d = detail();
    (d.single_register_electricity_tariffs._A.varying as Record<string, unknown>).links = undefined;
    assert.equal(ProductDetailSchema.safeParse(d).success, false);
  });
});

describe('RatesPageSchema', () => {
  const row = {
    value_exc_vat: 20.02,
    value_inc_vat: 21.021,
    valid_from: '2025-02-28T22:30:00Z',
    valid_to: '2025-02-28T23:00:00Z',
    payment_method: null,
  };

  it('accepts the DRF envelope with upstream rows', () => {
    const r = RatesPageSchema.safeParse({ count: 1, next: null, previous: null, results: [row] });
    assert.ok(r.success);
  });

  it('rejects rows with local offsets, extra fields or a string price', () => {
    const bad = [
      { ...row, valid_from: '2025-02-28T22:30:00+00:00' },
      { ...row, extra: 1 },
      { ...row, value_inc_vat: '21.021' },
    ];
    for (const r of bad) {
      assert.equal(
        RatesPageSchema.safeParse({ count: 1, next: null, previous: null, results: [r] }).success,
        false,
      );
    }
  });

  it('rejects a non-URL next and a negative count', () => {
    assert.equal(
      RatesPageSchema.safeParse({ count: 1, next: '?page=2', previous: null, results: [] }).success,
      false,
    );
    assert.equal(
      RatesPageSchema.safeParse({ count: -1, next: null, previous: null, results: [] }).success,
      false,
    );
  });
});
