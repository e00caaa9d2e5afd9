import assert from 'node:assert/strict';
import { formatAge } from '../src/index.js';

describe('formatAge', () => {
  it('reads at a glance from seconds to days', () => {
    assert.equal(formatAge(-5), '0s');
    assert.equal(formatAge(45_900), '45s');
    assert.equal(formatAge(4 * 60_000 + 2_000), '4m 02s');
    assert.equal(formatAge(2 * 3_600_000 + 3 * 60_000), '2h 03m');
    assert.equal(formatAge(3 * 86_400_000 + 4 * 3_600_000), '3d 04h');
  });
});
