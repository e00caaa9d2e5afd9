import assert from 'node:assert/strict';
import { jetstream, jetstreamManager, StorageType } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { BUCKET_LIMITS, guardBucket, openBuckets } from '@ratebus/fetcher';
import { BUCKETS, type BucketRole, RatebusConfigSchema } from '@ratebus/schema';
import { NatsServer, natsServerVersion } from '@ratebus/testkit';
import { accountsConfig, connectAs, isJsCode, JS_CODES, ROLE_ENV, rollup } from './roles.js';

const CONFIG = RatebusConfigSchema.parse({});
const ROLES = Object.keys(BUCKETS) as BucketRole[];

describe('Limits: buckets, account and connections (services/nats/accounts.conf, bucket-limits.ts)', function () {
  this.timeout(60_000);
  let ns: NatsServer;
  let fetcher: NatsConnection;
  let pod: NatsConnection;

  before(async () => {
    ns = await NatsServer.start({ extraConfig: accountsConfig(), env: ROLE_ENV });
    fetcher = await connectAs('fetcher', ns.url);
    pod = await connectAs('pod', ns.url);
  });
  after(async () => {
    await pod?.close();
    await fetcher?.close();
    await ns?.stop();
  });

  it('refuses memory storage for the account (max_mem 0), even to the role that creates buckets', async () => {
    // Runs before the fetcher's buckets exist (the next test creates them).
    await assert.rejects(
      new Kvm(jetstream(fetcher)).create(BUCKETS.urls, { history: 1, storage: StorageType.Memory }),
      isJsCode(JS_CODES.memoryResources),
    );
  });

  it('an existing bucket made without limits gets them when the fetcher binds it, and keeps its keys', async () => {
    // What earlier versions created: Kvm.create's defaults (rollup allowed, no limits).
    const old = await new Kvm(jetstream(fetcher)).create(BUCKETS.interest, {
      history: 1,
      ttl: CONFIG.interest.ttlMs,
    });
    await old.put('HELD.KEY', 'held');
    await openBuckets(fetcher, CONFIG);
    const jsm = await jetstreamManager(fetcher);
    for (const role of ROLES) {
      const c = (await jsm.streams.info(`KV_${BUCKETS[role]}`)).config;
      const want = BUCKET_LIMITS[role];
      assert.equal(c.allow_rollup_hdrs, false, `${role}: no rollup`);
      assert.equal(c.max_msgs, want.maxKeys, `${role}: keys`);
      assert.equal(c.max_bytes, want.maxBytes, `${role}: bytes`);
      assert.equal(c.max_msg_size, want.maxValueBytes, `${role}: value size`);
      assert.equal(c.max_msgs_per_subject, 1, `${role}: history`);
      // nats-server 2.9 cannot change max_consumers after creation, and Kvm.create cannot set it
      if (natsServerVersion()[1] >= 10 || natsServerVersion()[0] > 2)
        assert.equal(c.max_consumers, want.maxConsumers, `${role}: consumers`);
    }
    assert.equal((await old.get('HELD.KEY'))?.string(), 'held');
  });

  it("refuses a pod's rollup on the interest bucket: nothing held is erased", async () => {
    const interest = await new Kvm(jetstream(pod)).open(BUCKETS.interest);
    await interest.put('A.B', 'honest');
    await assert.rejects(
      rollup(pod, `$KV.${BUCKETS.interest}.EVIL.X`),
      isJsCode(JS_CODES.rollupNotPermitted),
    );
    await assert.rejects(interest.purge('A.B'), isJsCode(JS_CODES.rollupNotPermitted));
    assert.equal((await interest.get('A.B'))?.string(), 'honest');
    assert.equal((await interest.get('HELD.KEY'))?.string(), 'held');
  });

  it('refuses an interest value larger than the bucket allows', async () => {
    const interest = await new Kvm(jetstream(pod)).open(BUCKETS.interest);
    await assert.rejects(
      interest.put('BIG.VALUE', 'x'.repeat(BUCKET_LIMITS.interest.maxValueBytes + 1)),
      isJsCode(JS_CODES.messageTooLarge),
    );
    assert.equal(await interest.get('BIG.VALUE'), null);
  });

  it("caps pods' consumers on a bucket they watch: the next one is refused (nats-server >= 2.10; 2.9 keeps its cap)", async () => {
    const [major, minor] = natsServerVersion();
    const jsm = await jetstreamManager(fetcher);
    const stream = `KV_${BUCKETS.checks}`;
    const info = await jsm.streams.info(stream);
    const held = info.state.consumer_count;
    // the production cap is 15,000; the same setting, three above what exists, shows what reaching it does
    await guardBucket(jsm, BUCKETS.checks, { ...BUCKET_LIMITS.checks, maxConsumers: held + 3 });
    try {
      if (major === 2 && minor < 10) {
        // 2.9 cannot change max_consumers of an existing stream: the rest is applied, the cap stays as it was
        // (services/nats/README.md "Limits").
        assert.equal((await jsm.streams.info(stream)).config.max_consumers, info.config.max_consumers);
        return;
      }
      const podJsm = await jetstreamManager(pod);
      const add = (i: number) =>
        podJsm.consumers.add(stream, { name: `flood_${i}`, filter_subject: `$KV.${BUCKETS.checks}.>` });
      for (let i = 0; i < 3; i++) await add(i);
      await assert.rejects(add(3), isJsCode(JS_CODES.maximumConsumers));
    } finally {
      await guardBucket(jsm, BUCKETS.checks, BUCKET_LIMITS.checks);
    }
  });

  it('caps subscriptions per connection: the 1,001st gets nothing, the others and the connection live on', async () => {
    const nc = await connectAs('pod', ns.url);
    // pods may subscribe to live rates; the lastresort role may publish them
    const publisher = await connectAs('lastresort', ns.url);
    try {
      const subs = Array.from({ length: 1_000 }, (_, i) =>
        nc.subscribe(`ratebus.rates.CAP.T${i}`, { max: 1 }),
      );
      const extra = nc.subscribe('ratebus.rates.CAP.EXTRA', { max: 1, timeout: 1_000 });
      await nc.flush();
      publisher.publish('ratebus.rates.CAP.EXTRA', 'x');
      publisher.publish('ratebus.rates.CAP.T999', 'y');
      let got: string | null = null;
      for await (const m of subs[999] ?? []) got = m.string();
      assert.equal(got, 'y', 'the 1,000th subscription works');
      await assert.rejects(
        (async () => {
          for await (const _ of extra) return;
        })(),
        'the refused subscription receives nothing',
      );
      assert.ok(!nc.isClosed());
    } finally {
      await nc.close();
      await publisher.close();
    }
  });
});
