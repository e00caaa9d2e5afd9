import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import { BUCKETS } from '@ratebus/schema';
import { check } from '@ratebus/testkit';
import { isJsCode, JS_CODES, rollup } from '../nats-security/roles.js';
import { ATTACKS, type AttackTarget, refusedAs } from './attacks.js';
import { BY_INTEREST, CONFIGURED, Fleet, keyOf } from './fleet.js';

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

  const at = (t: (typeof BY_INTEREST)[number] | undefined): AttackTarget => ({
    nc: evil,
    interestKey: keyOf(t ?? assert.fail()),
    heldKey: keyOf(CONFIGURED[0] ?? assert.fail()),
  });

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
      ATTACKS.interestRollupAll.run(at(BY_INTEREST[0])),
      refusedAs(ATTACKS.interestRollupAll),
    );
    const after = new Set<string>();
    for await (const k of await listed.keys()) after.add(k);
    assert.deepEqual(after, before);
  });

  it("refuses purging a key's history (KV purge is a rollup)", async () => {
    const interest = await Fleet.bucket(evil, 'interest');
    const key = keyOf(BY_INTEREST[0] ?? assert.fail());
    await assert.rejects(
      ATTACKS.interestPurgeKey.run(at(BY_INTEREST[0])),
      refusedAs(ATTACKS.interestPurgeKey),
    );
    await assert.rejects(
      ATTACKS.interestPurgeBucket.run(at(BY_INTEREST[0])),
      refusedAs(ATTACKS.interestPurgeBucket),
    );
    await assert.rejects(
      rollup(evil, `$KV.${BUCKETS.interest}.${key}`, 'sub'),
      isJsCode(JS_CODES.rollupNotPermitted),
    );
    assert.equal((await interest.get(key))?.operation, 'PUT');
  });

  it("bounds deleting another pod's interest: an honest pod declares it again at its next renewal", async () => {
    const interest = await Fleet.bucket(evil, 'interest');
    const key = keyOf(BY_INTEREST[1] ?? assert.fail());
    const before = anomalies(await fleet.fetcher.metrics(), 'deleted');
    const deleted = await ATTACKS.interestDeleteOther.run(at(BY_INTEREST[1])).then(() => interest.get(key));
    assert.notEqual(deleted?.operation, 'PUT', 'the shared pod user may delete (not expressible in NATS)');
    // Not refused, but counted: no honest pod deletes interest, and expiry leaves no marker.
    await check(async () => anomalies(await fleet.fetcher.metrics(), 'deleted') === before + 1, {
      name: 'the delete counted',
    });
    await check(async () => (await interest.get(key))?.operation === 'PUT', {
      name: 'interest declared again',
      timeout: 20 * RENEW_MS,
    });
    await fleet.assertUnharmed();
  });

  it("bounds overwriting another pod's interest with an invalid value: an honest pod rewrites it at its next renewal", async () => {
    const interest = await Fleet.bucket(evil, 'interest');
    const t = BY_INTEREST[0] ?? assert.fail();
    const key = keyOf(t);
    // The put's revision, not a read after it: an honest pod may already have rewritten the entry by then.
    const before = anomalies(await fleet.fetcher.metrics(), 'invalid');
    const forged = await ATTACKS.interestOverwriteOther.run(at(t));
    assert.equal(typeof forged, 'number', 'the shared pod user may overwrite');
    await check(async () => anomalies(await fleet.fetcher.metrics(), 'invalid') === before + 1, {
      name: 'the invalid entry counted',
    });
    // The fetcher ignores an invalid entry; the honest pods must not take it for their own recent renewal.
    await check(
      async () => {
        const e = await interest.get(key);
        return !!e && e.revision > Number(forged) && e.json<{ tariff?: string }>().tariff === t.tariff;
      },
      { name: 'interest declared again', timeout: 20 * RENEW_MS },
    );
    await fleet.assertUnharmed();
  });

  it('refuses an interest value larger than the bucket allows', async () => {
    const interest = await Fleet.bucket(evil, 'interest');
    await assert.rejects(
      ATTACKS.interestOversized.run(at(BY_INTEREST[0])),
      refusedAs(ATTACKS.interestOversized),
    );
    assert.equal(await interest.get('HOSTILE.BIG'), null);
  });

  it('leaves every honest pod fresh with nothing lost and every bucket within its limits', async () => {
    await fleet.assertUnharmed();
  });
});

/** `ratebus_interest_anomalies_total{kind}` of the fetcher (0 before the first). */
function anomalies(metrics: Map<string, number>, kind: string): number {
  return metrics.get(`ratebus_interest_anomalies_total{kind="${kind}"}`) ?? 0;
}
