import assert from 'node:assert/strict';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { openBuckets } from '@ratebus/fetcher';
import { BUCKETS, RatebusConfigSchema } from '@ratebus/schema';
import { check, NatsCluster } from '@ratebus/testkit';
import { accountsConfig, connectAs, ROLE_ENV } from './roles.js';

/** What `RATEBUS_REPLICAS=3` makes the fetcher do in the compose cluster. */
const REPLICAS = 3;

describe('NATS security: a 3-node cluster with the ratebus accounts', function () {
  this.timeout(60_000);
  let cluster: NatsCluster;
  let fetcher: NatsConnection;
  let pod: NatsConnection;

  before(async () => {
    // Same users and permissions as node-1..3.conf (which include accounts.conf); routes on loopback.
    cluster = await NatsCluster.start({ size: 3, extraConfig: accountsConfig(), env: ROLE_ENV });
    fetcher = await connectAs('fetcher', cluster.urls);
    pod = await connectAs('pod', cluster.urls);
  });
  after(async () => {
    await fetcher?.close();
    await pod?.close();
    await cluster?.stop();
  });

  it("accepts the fetcher's R3 buckets with their limits within the account's storage, and a pod reads them", async () => {
    // The buckets reserve max_bytes × replicas against the account's max_file (services/nats/README.md "Limits").
    const buckets = await openBuckets(fetcher, RatebusConfigSchema.parse({}), { replicas: REPLICAS });
    for (const kv of Object.values(buckets)) assert.equal((await kv.status()).replicas, REPLICAS);
    const kvm = new Kvm(jetstream(fetcher, { timeout: 5_000 }));
    const rates = await kvm.open(BUCKETS.rates);
    // A new R3 stream may answer "no responders" until its leader is elected (seen on 2.15.1).
    await check(async () => rates.put('AGILE-24-10-01.E-1R-AGILE-24-10-01-C', 'doc'), {
      timeout: 10_000,
      interval: 100,
      name: 'first put',
    });

    const jsm = await jetstreamManager(fetcher);
    const info = await jsm.streams.info(`KV_${BUCKETS.rates}`);
    assert.equal(info.config.num_replicas, REPLICAS);
    assert.equal((info.cluster?.replicas?.length ?? 0) + 1, REPLICAS, 'a leader and two replicas');

    const podRates = await new Kvm(jetstream(pod)).open(BUCKETS.rates);
    assert.equal((await podRates.get('AGILE-24-10-01.E-1R-AGILE-24-10-01-C'))?.string(), 'doc');
  });
});
