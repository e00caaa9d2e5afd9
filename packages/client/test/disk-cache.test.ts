import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRateKey } from '@ratebus/schema';
import { DiskCache } from '../src/copy/disk-cache.js';
import { silentLogger } from '../src/logger.js';
import { doc, KEY } from './docs.js';

describe('DiskCache', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ratebus-disk-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('round-trips the newest of many queued writes and leaves no temp files', async () => {
    const cache = new DiskCache(join(dir, 'sub'), silentLogger);
    const ref = parseRateKey(KEY);
    for (let i = 1; i <= 20; i++) {
      cache.save({ key: KEY, ref, document: doc({ seed: i }), revision: i, epoch: 'e' }, null, 1_000);
    }
    await cache.flush();
    assert.deepEqual(readdirSync(join(dir, 'sub')), ['AGILE-24-10-01_E-1R-AGILE-24-10-01-C.json']);
    const [r] = await new DiskCache(join(dir, 'sub'), silentLogger).loadAll();
    assert.equal(r?.document.revision, 20);
    assert.equal(r?.document.document.contentHash, doc({ seed: 20 }).contentHash);
    cache.remove(KEY, ref);
    await cache.flush();
    assert.deepEqual(readdirSync(join(dir, 'sub')), []);
  });

  it('loads nothing from a missing directory', async () => {
    assert.deepEqual(await new DiskCache(join(dir, 'none'), silentLogger).loadAll(), []);
  });
});
