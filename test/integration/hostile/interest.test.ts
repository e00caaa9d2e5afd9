import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import { BUCKETS } from '@ratebus/schema';
import { check } from '@ratebus/testkit';
import { isJsCode, JS_CODES, rollup } from '../nats-security/roles.js';
import { BY_INTEREST, Fleet, keyOf } from './fleet.js';

/**
 * Attacks on `ratebus-interest`, the one bucket pods may write. Pods share one user, so NATS cannot tell one
 * pod's entry from another's: a hostile pod can delete or overwrite any interest key. What is refused is
 * wiping the bucket (rollup) and purging a key's history; a deleted or overwritten entry is bounded by the
 * honest pods' renewal: they write it again within one renewal period.
 */
describe('Hostile pod: interest', function () {
  this.timeout(180_000);
  let fleet: Fleet;
  let evil: NatsConnection;
  /** Honest pods renew (check their entries) this often here; in production a quarter of the TTL. */
  const RENEW_MS = 500;

  before(async () => {
    fleet = await Fleet.start({ label: 'interest', interestCheckIntervalMs: RENEW_MS });
    evil = await fleet.connect('pod');
  });
  after(async () => {
    await fleet?.stop();
  });

  it("refuses a rollup that would wipe every pod's interest", async () => {
    // listing needs a consumer on the bucket, which pods may not create: an operator looks
    const listed = await Fleet.bucket(await fleet.connect('inspector'), 'interest');
    const before = new Set<string>();
    for await (const k of await listed.keys()) before.add(k);
    for (const t of BY_INTEREST) assert.ok(before.has(keyOf(t)), `${t.tariff} declared`);
    await assert.rejects(
      rollup(evil, `$KV.${BUCKETS.interest}.EVIL.WIPE`, 'all'),
      isJsCode(JS_CODES.rollupNotPermitted),
    );
    const after = new Set<string>();
    for await (const k of await listed.keys()) after.add(k);
    assert.deepEqual(after, before);
  });

  it("refuses purging a key's history (KV purge is a rollup)", async () => {
    const interest = await Fleet.bucket(evil, 'interest');
    const key = keyOf(BY_INTEREST[0] ?? assert.fail());
    await assert.rejects(interest.purge(key), isJsCode(JS_CODES.rollupNotPermitted));
    await assert.rejects(
      rollup(evil, `$KV.${BUCKETS.interest}.${key}`, 'sub'),
      isJsCode(JS_CODES.rollupNotPermitted),
    );
    assert.equal((await interest.get(key))?.operation, 'PUT');
  });

  it("bounds deleting another pod's interest: an honest pod declares it again at its next renewal", async () => {
    const interest = await Fleet.bucket(evil, 'interest');
    const key = keyOf(BY_INTEREST[1] ?? assert.fail());
    const deleted = await interest.delete(key).then(() => interest.get(key));
    assert.notEqual(deleted?.operation, 'PUT', 'the shared pod user may delete (not expressible in NATS)');
    await check(async () => (await interest.get(key))?.operation === 'PUT', {
      name: 'interest declared again',
      timeout: 20 * RENEW_MS,
    });
    await fleet.assertUnharmed();
  });

  it('refuses an interest value larger than the bucket allows', async () => {
    const interest = await Fleet.bucket(evil, 'interest');
    await assert.rejects(interest.put('EVIL.BIG', 'x'.repeat(2_048)), isJsCode(JS_CODES.messageTooLarge));
    assert.equal(await interest.get('EVIL.BIG'), null);
  });

  it('leaves every honest pod fresh with nothing lost and every bucket within its limits', async () => {
    await fleet.assertUnharmed();
  });
});
