import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import { isViolation } from '@ratebus/fixtures';
import { BUCKETS, LEASE_KEY, ratesSubject } from '@ratebus/schema';
import { rollup } from '../nats-security/roles.js';
import { ATTACKS, refusedAs } from './attacks.js';
import { ALL_TARIFFS, BY_INTEREST, CONFIGURED, Fleet, keyOf } from './fleet.js';

/**
 * Forged writes from a pod: documents, Checked records, the lease, live pushes, the URL cache. Each is a
 * permission violation for the pod user (and for the lastresort user where it is not its own key).
 */
describe('Hostile pod: forged writes', function () {
  this.timeout(180_000);
  let fleet: Fleet;
  let evil: NatsConnection;
  const t = CONFIGURED[0] ?? assert.fail();

  before(async () => {
    fleet = await Fleet.start({ label: 'forged' });
    evil = await fleet.connect('pod');
  });
  after(async () => {
    await fleet?.stop();
  });

  it('cannot write, delete or roll up a rates document, a Checked record or the lease', async () => {
    const rates = await Fleet.bucket(evil, 'rates');
    const key = keyOf(t);
    const target = { nc: evil, heldKey: key, interestKey: keyOf(BY_INTEREST[0] ?? assert.fail()) };
    for (const attack of [
      ATTACKS.forgedRates,
      ATTACKS.forgedChecks,
      ATTACKS.forgedLease,
      ATTACKS.forgedLastResortLock,
    ]) {
      await assert.rejects(attack.run(target), refusedAs(attack), attack.name);
    }
    await assert.rejects(rates.delete(key), isViolation(`$KV.${BUCKETS.rates}.${key}`));
    await assert.rejects(
      rollup(evil, `$KV.${BUCKETS.rates}.${key}`),
      isViolation(`$KV.${BUCKETS.rates}.${key}`),
    );
    const urls = await Fleet.bucket(evil, 'urls');
    await assert.rejects(
      urls.put('a'.repeat(64), 'poisoned'),
      isViolation(`$KV.${BUCKETS.urls}.${'a'.repeat(64)}`),
    );
  });

  it('cannot push a forged document to live subscribers', async () => {
    const sub = evil.subscribe(ratesSubject(t.product, t.tariff), { max: 1 });
    const forged = evil.publish(ratesSubject(t.product, t.tariff), '{"forged":true}');
    assert.equal(forged, undefined);
    // the violation is reported asynchronously; the subscription (allowed) stays open and nothing arrives
    await evil.flush();
    assert.equal(sub.getReceived(), 0);
    sub.unsubscribe();
  });

  it('the lastresort user cannot take the election lease nor touch interest', async () => {
    const lr = await fleet.connect('lastresort');
    const lease = await Fleet.bucket(lr, 'lease');
    await assert.rejects(
      lease.put(LEASE_KEY, '{"forged":true}'),
      isViolation(`$KV.${BUCKETS.lease}.${LEASE_KEY}`),
    );
    const interest = await Fleet.bucket(lr, 'interest');
    const key = keyOf(ALL_TARIFFS[1] ?? assert.fail());
    await assert.rejects(interest.delete(key), isViolation(`$KV.${BUCKETS.interest}.${key}`));
  });

  it('leaves every honest pod fresh with nothing lost and every bucket within its limits', async () => {
    await fleet.assertUnharmed();
  });
});
