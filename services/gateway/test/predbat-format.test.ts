import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { agileDoc, PYYAML_SAME, runPython } from '@ratebus/fixtures';
import {
  createdString,
  entryFiles,
  jsonToYaml11,
  metaText,
  parseCreated,
  predbatKey,
  predbatRatesJson,
  ratesEntry,
} from '../src/index.js';

/**
 * The YAML side of PredBat's cache format (docs/predbat.md): every value must load under PyYAML's
 * `safe_load` (YAML 1.1) to exactly what `json.loads` gives for the JSON it came from. Checked with the
 * real PyYAML (Debian's python3-yaml), type for type: a timestamp that loads as a datetime, or a float that
 * loads as a string, fails.
 */

/** For each pair: safe_load(yaml) is json.loads(json), types included. Prints a JSON list of verdicts. */
const COMPARE_PY = `
import json, sys
${PYYAML_SAME}
out = []
for pair in json.load(sys.stdin):
    try:
        loaded = yaml.safe_load(pair["yaml"])
        expected = json.loads(pair["json"])
        out.append({"ok": same(loaded, expected), "loaded": repr(loaded)[:300], "expected": repr(expected)[:300]})
    except Exception as e:
        out.append({"ok": False, "loaded": "error: %r" % (e,), "expected": ""})
print(json.dumps(out))
`;

function assertLoadsLikeJson(jsons: string[]): void {
  const verdicts = runPython(
    COMPARE_PY,
    jsons.map((json) => ({ json, yaml: jsonToYaml11(json) })),
  ) as Array<{ ok: boolean; loaded: string; expected: string }>;
  verdicts.forEach((v, i) => {
    assert.ok(
      v.ok,
      `value ${i}: ${jsons[i]}\n→ ${jsonToYaml11(jsons[i] as string)}\nloaded ${v.loaded}\nwanted ${v.expected}`,
    );
  });
}

describe('PredBat cache format', () => {
  it('keys an entry by the first 16 hex characters of SHA-256 of the exact URL', () => {
    const url = 'https://api.octopus.energy/v1/products/AGILE-24-10-01/';
    assert.equal(predbatKey(url), createHash('sha256').update(url).digest('hex').slice(0, 16));
    assert.match(predbatKey(url), /^[0-9a-f]{16}$/);
    assert.notEqual(predbatKey(url), predbatKey(url.slice(0, -1)), 'the trailing slash is part of the key');
    assert.deepEqual(entryFiles('0123456789abcdef'), {
      yaml: 'octopus_0123456789abcdef.yaml',
      meta: 'octopus_0123456789abcdef.meta',
    });
    assert.equal(
      ratesEntry(
        { product: 'AGILE-24-10-01', tariff: 'E-1R-AGILE-24-10-01-C' } as never,
        'standard-unit-rates',
      ).url,
      'https://api.octopus.energy/v1/products/AGILE-24-10-01/electricity-tariffs/E-1R-AGILE-24-10-01-C/standard-unit-rates/',
    );
  });

  it('writes .meta with created in UTC, +00:00 and microseconds, and reads PredBat forms back', () => {
    const t = Date.parse('2026-12-03T16:04:05.123Z');
    assert.equal(createdString(t), '2026-12-03T16:04:05.123000+00:00');
    assert.deepEqual(JSON.parse(metaText(t)), {
      format: 'yaml',
      expiry: null,
      module: 'octopus',
      created: '2026-12-03T16:04:05.123000+00:00',
    });
    assert.equal(parseCreated('2026-12-03T16:04:05.123456+00:00'), t);
    assert.equal(parseCreated('2026-12-03T16:04:05+00:00'), t - 123);
    assert.equal(parseCreated('2026-12-03T17:04:05.123+01:00'), t);
    assert.equal(parseCreated('2026-12-03T16:04:05'), null, 'a naive time is not a PredBat created');
    assert.equal(parseCreated('yesterday'), null);
  });

  it('loads under PyYAML safe_load to the json.loads values: timestamps, floats without a dot, escapes', () => {
    assertLoadsLikeJson([
      '[{"value_exc_vat":23.1,"value_inc_vat":24.255,"valid_from":"2026-12-03T23:00:00Z","valid_to":null,"payment_method":null}]',
      '[1e-7, 1E+5, 2.5e10, -0.0, 0, -0, 15, 15.0, 12345678901234567890, 1.5E-300, 1e400]',
      '{"a":"yes","b":"no","c":"~","d":"1:30","e":"0x1F","f":"2026-12-03","g":"null","h":"","i":"#x","j":"- a"}',
      '{"s":"line\\nbreak \\"quoted\\" back\\\\slash \\t tab \\u0000 nul \\u0085 nel \\u2028 ls"}',
      '{"u":"caf\\u00e9 \\ud83d\\ude00 \\ufffe \\ud800 lone","€":"key"}',
      '[[], {}, [[]], {"x":{}}, true, false, null]',
      `{"${'k'.repeat(1500)}": 1, "short": [1, 2]}`,
      '{"dup":1,"dup":2}',
      '"just a string"',
      '[-1.5e-3, 3.0E7, 0.1, 100.25]',
    ]);
  });

  it('serialises the gateway answer rows of a document the same way', () => {
    const json = predbatRatesJson(agileDoc(), 'standard-unit-rates');
    assert.ok(json !== null);
    const rows = JSON.parse(json) as unknown[];
    assert.ok(rows.length > 0 && rows.length <= 300);
    assertLoadsLikeJson([json, predbatRatesJson(agileDoc(), 'standing-charges') as string]);
    assert.equal(predbatRatesJson(agileDoc(), 'day-unit-rates'), null, 'no day rates on a standard tariff');
  });
});
