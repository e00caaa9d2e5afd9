import assert from 'node:assert/strict';
import { jetstreamManager, StorageType } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { isViolation } from '@ratebus/fixtures';
import { BUCKETS } from '@ratebus/schema';
import { ATTACKS, refusedAs } from './attacks.js';
import { BY_INTEREST, CONFIGURED, Fleet, keyOf } from './fleet.js';

/**
 * Stream-level attacks from a pod: purging or deleting buckets, changing their config (limits, TTL), creating
 * streams. Consumers: pods may create consumers on `ratebus-rates` and `ratebus-checks` (their watches need it);
 * their number is capped per stream (nats-server >= 2.10) and per account (services/nats/README.md "Limits").
 */
describe('Hostile pod: streams and consumers', function () {
  this.timeout(180_000);
  let fleet: Fleet;
  let evil: NatsConnection;

  before(async () => {
    fleet = await Fleet.start({ label: 'streams' });
    evil = await fleet.connect('pod');
  });
  after(async () => {
    await fleet?.stop();
  });

  it('cannot purge, delete or reconfigure any bucket', async () => {
    const jsm = await jetstreamManager(evil);
    for (const bucket of Object.values(BUCKETS)) {
      const stream = `KV_${bucket}`;
      await assert.rejects(jsm.streams.purge(stream), isViolation(`$JS.API.STREAM.PURGE.${stream}`));
      await assert.rejects(jsm.streams.delete(stream), isViolation(`$JS.API.STREAM.DELETE.${stream}`));
      await assert.rejects(
        jsm.streams.deleteMessage(stream, 1),
        isViolation(`$JS.API.STREAM.MSG.DELETE.${stream}`),
      );
    }
    // the update is refused before it reaches the stream (whose info a pod may read only for three buckets)
    await assert.rejects(
      jsm.streams.update(`KV_${BUCKETS.interest}`, { max_bytes: -1 }),
      isViolation(`$JS.API.STREAM.UPDATE.KV_${BUCKETS.interest}`),
    );
  });

  it('cannot create a stream, memory or file, nor a consumer on the lease', async () => {
    const target = {
      nc: evil,
      heldKey: keyOf(CONFIGURED[0] ?? assert.fail()),
      interestKey: keyOf(BY_INTEREST[0] ?? assert.fail()),
    };
    await assert.rejects(ATTACKS.streamCreate.run(target), refusedAs(ATTACKS.streamCreate));
    await assert.rejects(ATTACKS.consumerCreateLease.run(target), refusedAs(ATTACKS.consumerCreateLease));
    const jsm = await jetstreamManager(evil);
    await assert.rejects(
      jsm.streams.add({ name: 'EVIL', subjects: ['evil.>'], storage: StorageType.Memory }),
      isViolation('$JS.API.STREAM.CREATE.EVIL'),
    );
  });

  it('leaves every honest pod fresh with nothing lost and every bucket within its limits', async () => {
    await fleet.assertUnharmed();
  });
});
