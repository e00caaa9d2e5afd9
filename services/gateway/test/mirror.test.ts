import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agileDoc, dayNightDoc } from '@ratebus/fixtures';
import type { RatesDocument } from '@ratebus/schema';
import { pino } from 'pino';
import { parse } from 'yaml';
import {
  attachMirror,
  MIRROR_FORMAT,
  MirrorWriter,
  mirrorFileName,
  type SourceUpdate,
  tariffsDir,
} from '../src/index.js';

const silent = pino({ level: 'silent' });

describe('file mirror', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'ratebus-mirror-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const files = () => readdirSync(tariffsDir(root)).sort();

  it('writes one YAML per tariff in {dir}/shared/tariffs with upstream field names, and no temp files', async () => {
    const outcomes: string[] = [];
    const w = new MirrorWriter({ dir: root, logger: silent, onWrite: (o) => outcomes.push(o) });
    const a = agileDoc();
    const dn = dayNightDoc();
    await Promise.all([w.write(a), w.write(dn)]);
    assert.deepEqual(files(), [
      'AGILE-24-10-01_E-1R-AGILE-24-10-01-C.yaml',
      'VAR-22-11-01_E-2R-VAR-22-11-01-A.yaml',
    ]);
    const y = parse(readFileSync(join(tariffsDir(root), files()[0] as string), 'utf8'));
    assert.equal(y.format, MIRROR_FORMAT);
    assert.equal(y.product, a.product);
    assert.equal(y.tariff, a.tariff);
    assert.equal(y.fetched_at, a.fetchedAt);
    assert.equal(y.covers_through, a.coversThrough);
    assert.deepEqual(y.standard_unit_rates, a.unitRates);
    assert.deepEqual(y.standing_charges, a.standingCharges);
    const d = parse(readFileSync(join(tariffsDir(root), files()[1] as string), 'utf8'));
    assert.deepEqual(d.day_unit_rates, dn.dayUnitRates);
    assert.deepEqual(d.night_unit_rates, dn.nightUnitRates);
    assert.equal(d.standard_unit_rates, undefined);
    assert.deepEqual(outcomes, ['ok', 'ok']);
  });

  it('coalesces bursts to the newest document and replaces the file in place', async () => {
    const w = new MirrorWriter({ dir: root, logger: silent });
    const docs = [1, 2, 3, 4].map((term) => ({ ...agileDoc('2025-03-01T00:00:00Z', 48 + term), term }));
    await Promise.all(docs.map((d) => w.write(d)));
    await w.idle();
    assert.deepEqual(files(), ['AGILE-24-10-01_E-1R-AGILE-24-10-01-C.yaml']);
    const y = parse(readFileSync(join(tariffsDir(root), files()[0] as string), 'utf8'));
    assert.equal(y.term, 4);
    assert.equal(y.standard_unit_rates.length, 52);
  });

  it('leaves no temp file when a write fails, and keeps counting instead of throwing', async () => {
    const outcomes: string[] = [];
    const w = new MirrorWriter({ dir: root, logger: silent, onWrite: (o) => outcomes.push(o) });
    await w.prepare();
    // A directory where the file should go makes the rename fail after the temp file was written.
    mkdirSync(join(tariffsDir(root), 'AGILE-24-10-01_E-1R-AGILE-24-10-01-C.yaml', 'blocker'), {
      recursive: true,
    });
    await w.write(agileDoc());
    assert.deepEqual(outcomes, ['error']);
    assert.deepEqual(files(), ['AGILE-24-10-01_E-1R-AGILE-24-10-01-C.yaml']);
    assert.deepEqual(readdirSync(join(tariffsDir(root), files()[0] as string)), ['blocker']);
  });

  it('removes temp files a crashed writer left behind, and nothing else', async () => {
    mkdirSync(tariffsDir(root), { recursive: true });
    const stale = '.AGILE-24-10-01_E-1R-AGILE-24-10-01-C.yaml.4242-0badc0de.tmp';
    writeFileSync(join(tariffsDir(root), stale), 'half');
    writeFileSync(join(tariffsDir(root), 'notes.txt'), 'keep');
    await new MirrorWriter({ dir: root, logger: silent }).prepare();
    assert.deepEqual(files(), ['notes.txt']);
  });

  it('never turns an invalid code into a file name', async () => {
    assert.throws(() => mirrorFileName('../..', 'E-1R-AGILE-24-10-01-C'), { code: 'ERR_INVALID_CODE' });
    assert.throws(() => mirrorFileName('AGILE-24-10-01', '*'), { code: 'ERR_INVALID_CODE' });
    assert.throws(() => mirrorFileName('GO-VAR-22-10-14', 'E-1R-AGILE-24-10-01-C'), {
      code: 'ERR_INVALID_CODE',
    });
    const outcomes: string[] = [];
    const w = new MirrorWriter({ dir: root, logger: silent, onWrite: (o) => outcomes.push(o) });
    await w.write({ ...agileDoc(), product: '../../etc' } as unknown as RatesDocument);
    assert.deepEqual(outcomes, ['error']);
    assert.deepEqual(readdirSync(root), []);
  });

  it('follows source updates, ignoring removals and unnamed updates', async () => {
    const held = new Map<string, RatesDocument>();
    const listeners: Array<(e: SourceUpdate) => void> = [];
    const source = {
      get: (p: string, t: string) => {
        const document = held.get(`${p}.${t}`);
        return document ? { document, freshness: 'fresh' as const, ageMs: 0 } : undefined;
      },
      ensure: async () => undefined,
      ready: async () => undefined,
      on: (_e: 'update', l: (e: SourceUpdate) => void) => {
        listeners.push(l);
        return () => listeners.splice(listeners.indexOf(l), 1);
      },
    };
    const w = new MirrorWriter({ dir: root, logger: silent });
    const detach = attachMirror(source, w);
    const a = agileDoc();
    held.set(`${a.product}.${a.tariff}`, a);
    for (const l of listeners) l({ product: a.product, tariff: a.tariff });
    for (const l of listeners) l({ product: 'VAR-22-11-01', tariff: 'E-2R-VAR-22-11-01-A' }); // not held
    for (const l of listeners) l({ key: 'bad key' });
    await w.idle();
    assert.deepEqual(files(), ['AGILE-24-10-01_E-1R-AGILE-24-10-01-C.yaml']);
    detach();
    assert.equal(listeners.length, 0);
  });
});
