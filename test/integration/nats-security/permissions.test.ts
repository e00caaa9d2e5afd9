import assert from 'node:assert/strict';
import { JetStreamApiCodes, JetStreamApiError, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import {
  AuthorizationError,
  connect,
  type Msg,
  type NatsConnection,
  NoRespondersError,
  PermissionViolationError,
} from '@nats-io/transport-node';
import { collectViolations, isViolation } from '@ratebus/fixtures';
import {
  BUCKETS,
  LEASE_KEY,
  rateKey,
  ratesSubject,
  refreshSubject,
  responderQueue,
  SUBJECTS,
} from '@ratebus/schema';
import { check, NatsServer } from '@ratebus/testkit';
import { accountsConfig, connectAs, PASSWORDS, ROLE_ENV } from './roles.js';

const PRODUCT = 'AGILE-24-10-01';
const TARIFF = 'E-1R-AGILE-24-10-01-C';
const KEY = rateKey(PRODUCT, TARIFF);
const NEW_KEY = rateKey(PRODUCT, 'E-1R-AGILE-24-10-01-A');
const URL_KEY = 'a'.repeat(64);

/** Bucket configs as the fetcher creates them (docs/buses.md), with R1 on a single node. */
const BUCKET_CONFIGS: Record<string, { history: number; ttl?: number }> = {
  [BUCKETS.rates]: { history: 1 },
  [BUCKETS.checks]: { history: 1 },
  [BUCKETS.interest]: { history: 1, ttl: 60 * 60_000 },
  [BUCKETS.lease]: { history: 1, ttl: 15_000 },
  [BUCKETS.urls]: { history: 1, ttl: 30 * 60_000 },
};

function hasCause(e: unknown, type: typeof NoRespondersError): boolean {
  let cur: unknown = e;
  while (cur instanceof Error) {
    const err: Error = cur;
    if (err instanceof type) return true;
    cur = err.cause;
  }
  return false;
}

/** Consumes a watch into `out` as `key=value` strings until it is stopped. */
async function drain(iter: AsyncIterable<{ key: string; string(): string }>, out: string[]): Promise<void> {
  for await (const e of iter) out.push(`${e.key}=${e.string()}`);
}

/**
 * Writes `key` (value v1, v2, ...) until the watch has delivered one of the writes. A single write right
 * after `watch()` resolves is occasionally never delivered by the v3 ordered consumer (about 1 in 60 on
 * 2.9.10, with or without permissions), so one write alone would make the test flaky.
 */
async function writeUntilSeen(write: (value: string) => Promise<unknown>, key: string, seen: string[]) {
  let n = 0;
  await check(
    async () => {
      if (seen.some((s) => s.startsWith(`${key}=`))) return true;
      await write(`v${++n}`);
      return false;
    },
    { interval: 100, name: `watch delivers ${key}` },
  );
}

describe('NATS security: services/nats/accounts.conf on a real server', () => {
  let ns: NatsServer;
  let fetcher: NatsConnection;
  const fkv: Record<string, KV> = {};

  before(async () => {
    ns = await NatsServer.start({ extraConfig: accountsConfig(), env: ROLE_ENV });
    fetcher = await connectAs('fetcher', ns.url);
    const kvm = new Kvm(jetstream(fetcher, { timeout: 2_000 }));
    for (const [name, cfg] of Object.entries(BUCKET_CONFIGS)) fkv[name] = await kvm.create(name, cfg);
    await kv(BUCKETS.rates).put(KEY, 'doc-seed');
    await kv(BUCKETS.checks).put(KEY, 'checked-seed');
    await kv(BUCKETS.urls).put(URL_KEY, 'cached');
  });
  after(async () => {
    await fetcher?.close();
    await ns?.stop();
  });

  const kv = (bucket: string): KV => {
    const b = fkv[bucket];
    assert.ok(b, `bucket ${bucket} was created`);
    return b;
  };

  describe('connections', () => {
    it('refuses anonymous connections and wrong passwords', async () => {
      await assert.rejects(connect({ servers: ns.url, maxReconnectAttempts: 0 }), AuthorizationError);
      await assert.rejects(
        connect({ servers: ns.url, user: 'pod', pass: `${PASSWORDS.pod}x`, maxReconnectAttempts: 0 }),
        AuthorizationError,
      );
      // another role's password does not open a role
      await assert.rejects(
        connect({ servers: ns.url, user: 'fetcher', pass: PASSWORDS.pod, maxReconnectAttempts: 0 }),
        AuthorizationError,
      );
    });
  });

  describe('fetcher', () => {
    it('creates every bucket with its config and binds them again', async () => {
      const kvm = new Kvm(jetstream(fetcher));
      for (const [name, cfg] of Object.entries(BUCKET_CONFIGS)) {
        const status = await (await kvm.create(name, cfg)).status();
        assert.equal(status.bucket, name);
        assert.equal(status.history, 1);
        assert.equal(status.ttl, cfg.ttl ?? 0);
      }
    });

    it('writes rates with create and CAS update, puts checks, and publishes live rates', async () => {
      const pod = await connectAs('pod', ns.url);
      try {
        const pushes: string[] = [];
        pod.subscribe(SUBJECTS.allRates, {
          callback: (_e, m) => {
            pushes.push(`${m.subject}:${m.string()}`);
          },
        });
        await pod.flush();

        const rev = await kv(BUCKETS.rates).create(NEW_KEY, 'doc-1');
        const rev2 = await kv(BUCKETS.rates).update(NEW_KEY, 'doc-2', rev);
        await assert.rejects(kv(BUCKETS.rates).update(NEW_KEY, 'stale', rev), (e: unknown) => {
          assert.ok(e instanceof JetStreamApiError);
          assert.equal(e.code, JetStreamApiCodes.StreamWrongLastSequence);
          return true;
        });
        await kv(BUCKETS.checks).put(NEW_KEY, 'checked-1');
        fetcher.publish(ratesSubject(PRODUCT, TARIFF), 'doc-2');

        assert.equal((await kv(BUCKETS.rates).get(NEW_KEY))?.revision, rev2);
        assert.equal((await kv(BUCKETS.checks).get(NEW_KEY))?.string(), 'checked-1');
        await check(() => pushes.length === 1, { name: 'live push' });
        assert.deepEqual(pushes, [`${ratesSubject(PRODUCT, TARIFF)}:doc-2`]);
      } finally {
        await pod.close();
      }
    });

    it('runs a lease: create, CAS update, get, delete, create again', async () => {
      const lease = kv(BUCKETS.lease);
      const term = await lease.create(LEASE_KEY, 'fetcher-a');
      const renewed = await lease.update(LEASE_KEY, 'fetcher-a', term);
      assert.equal((await lease.get(LEASE_KEY))?.revision, renewed);
      await lease.delete(LEASE_KEY, { previousSeq: renewed });
      assert.ok((await lease.create(LEASE_KEY, 'fetcher-b')) > renewed);
      await lease.purge(LEASE_KEY);
    });

    it('caches URLs and watches interest written by a pod', async () => {
      await kv(BUCKETS.urls).put(URL_KEY, 'cached');
      assert.equal((await kv(BUCKETS.urls).get(URL_KEY))?.string(), 'cached');
      assert.ok((await kv(BUCKETS.urls).status()).values >= 1);

      const seen: string[] = [];
      const watch = await kv(BUCKETS.interest).watch({ key: 'WATCHED.>' });
      const consumed = drain(watch, seen);
      const pod = await connectAs('pod', ns.url);
      try {
        const interest = await new Kvm(jetstream(pod)).open(BUCKETS.interest);
        await writeUntilSeen((v) => interest.put('WATCHED.T', v), 'WATCHED.T', seen);
        assert.ok(
          seen.every((s) => /^WATCHED\.T=v\d+$/.test(s)),
          seen.join(),
        );
      } finally {
        watch.stop();
        await consumed;
        await pod.close();
      }
    });

    it('answers refresh and URL requests only as a member of a term queue group ratebus-fetchers.{term}', async () => {
      const violations = collectViolations(fetcher);
      const plain = fetcher.subscribe(SUBJECTS.allRefresh);
      const bare = fetcher.subscribe(SUBJECTS.allRefresh, { queue: 'ratebus-fetchers' });
      const other = fetcher.subscribe(SUBJECTS.urlGet, { queue: 'workers' });
      const refresh = fetcher.subscribe(SUBJECTS.allRefresh, {
        queue: responderQueue(7),
        callback: (_e, m: Msg) => {
          m.respond(`refreshed ${m.subject}`);
        },
      });
      const urls = fetcher.subscribe(SUBJECTS.urlGet, {
        queue: responderQueue(7),
        callback: (_e, m: Msg) => {
          m.respond('url-reply');
        },
      });
      const pod = await connectAs('pod', ns.url);
      try {
        assert.ok((await plain.closed) instanceof PermissionViolationError, 'plain subscription refused');
        assert.ok((await bare.closed) instanceof PermissionViolationError, 'group without a term refused');
        assert.ok((await other.closed) instanceof PermissionViolationError, 'another group refused');
        const reply = await pod.request(refreshSubject(PRODUCT, TARIFF), '{}', { timeout: 2_000 });
        assert.equal(reply.string(), `refreshed ${refreshSubject(PRODUCT, TARIFF)}`);
        assert.equal((await pod.request(SUBJECTS.urlGet, '{}', { timeout: 2_000 })).string(), 'url-reply');
        // only those three were refused, not the term's queue subscriptions
        assert.deepEqual(
          violations.map((v) => `${v.operation} ${v.subject} ${v.queue ?? '-'}`).sort(),
          [
            `subscription ${SUBJECTS.allRefresh} -`,
            `subscription ${SUBJECTS.allRefresh} ratebus-fetchers`,
            `subscription ${SUBJECTS.urlGet} workers`,
          ].sort(),
        );
      } finally {
        refresh.unsubscribe();
        urls.unsubscribe();
        await pod.close();
      }
    });

    it('cannot delete or purge a bucket', async () => {
      await assert.rejects(
        kv(BUCKETS.interest).destroy(),
        isViolation(`$JS.API.STREAM.DELETE.KV_${BUCKETS.interest}`),
      );
      const jsm = await jetstreamManager(fetcher);
      await assert.rejects(
        jsm.streams.purge(`KV_${BUCKETS.rates}`),
        isViolation(/^\$JS\.API\.STREAM\.PURGE\./),
      );
    });
  });

  describe('pod', () => {
    let pod: NatsConnection;
    let violations: PermissionViolationError[];
    let kvm: Kvm;
    beforeEach(async () => {
      pod = await connectAs('pod', ns.url);
      violations = collectViolations(pod);
      kvm = new Kvm(jetstream(pod, { timeout: 2_000 }));
    });
    afterEach(async () => {
      await pod?.close();
    });

    it('opens rates and checks, reads their status and a key', async () => {
      const rates = await kvm.open(BUCKETS.rates);
      assert.equal((await rates.status()).bucket, BUCKETS.rates);
      assert.equal((await rates.get(KEY))?.string(), 'doc-seed');
      // a handle opened with allow_direct reads with DIRECT.GET instead of STREAM.MSG.GET
      const direct = await kvm.open(BUCKETS.checks, { allow_direct: true });
      assert.equal((await direct.get(KEY))?.string(), 'checked-seed');
      assert.ok((await (await kvm.open(BUCKETS.checks)).status()).values >= 1);
      // Kvm.create on an existing bucket only asks for its info, so it binds too
      assert.equal((await (await kvm.create(BUCKETS.rates, { history: 1 })).get(KEY))?.string(), 'doc-seed');
      assert.deepEqual(violations, []);
    });

    it("watches rates and receives the fetcher's writes", async () => {
      const rates = await kvm.open(BUCKETS.rates);
      const seen: string[] = [];
      const watch = await rates.watch({ key: 'WATCH.>' });
      const consumed = drain(watch, seen);
      await writeUntilSeen((v) => kv(BUCKETS.rates).put('WATCH.A', v), 'WATCH.A', seen);
      watch.stop();
      await consumed;
      assert.ok(
        seen.every((s) => /^WATCH\.A=v\d+$/.test(s)),
        seen.join(),
      );
    });

    it('watches a snapshot big enough to need flow-control replies', async () => {
      // ~6 MiB pending makes the server ask for flow control; without `$JS.FC.<stream>.>` the watch stalls
      const big = 'x'.repeat(512 * 1024);
      for (let i = 0; i < 12; i++) await kv(BUCKETS.checks).put(`FC.K${i}`, big);
      const checks = await kvm.open(BUCKETS.checks);
      const seen: string[] = [];
      const watch = await checks.watch({ key: 'FC.>' });
      const consumed = drain(watch, seen);
      await check(() => new Set(seen.map((s) => s.split('=')[0])).size === 12, {
        timeout: 20_000,
        name: 'snapshot of 12 keys',
      });
      watch.stop();
      await consumed;
      assert.deepEqual(violations, []);
    });

    it('renews interest with create and CAS update; a stale update loses', async () => {
      const interest = await kvm.open(BUCKETS.interest);
      const rev = await interest.create(KEY, 'pod-a');
      await assert.rejects(interest.create(KEY, 'pod-b'), JetStreamApiError);
      const rev2 = await interest.update(KEY, 'pod-a-renewed', rev);
      await assert.rejects(interest.update(KEY, 'pod-b-renewed', rev), (e: unknown) => {
        assert.ok(e instanceof JetStreamApiError);
        assert.equal(e.code, JetStreamApiCodes.StreamWrongLastSequence);
        return true;
      });
      const entry = await interest.get(KEY);
      assert.equal(entry?.revision, rev2);
      assert.equal(entry?.string(), 'pod-a-renewed');
      assert.equal((await kv(BUCKETS.interest).get(KEY))?.string(), 'pod-a-renewed');
    });

    it('requests a refresh and gets the leader reply; with no leader the request has no responders', async () => {
      const sub = fetcher.subscribe(SUBJECTS.allRefresh, {
        queue: responderQueue(1),
        callback: (_e, m: Msg) => {
          m.respond('doc-now');
        },
      });
      await fetcher.flush();
      try {
        assert.equal((await pod.request(refreshSubject(PRODUCT, TARIFF), '{}')).string(), 'doc-now');
      } finally {
        sub.unsubscribe();
        await fetcher.flush();
      }
      await assert.rejects(pod.request(refreshSubject(PRODUCT, TARIFF), '{}'), (e: unknown) => {
        assert.ok(hasCause(e, NoRespondersError), String(e));
        return true;
      });
    });

    it('cannot publish live rates: the violation is reported and nothing is delivered', async () => {
      const listener = await connectAs('pod', ns.url);
      try {
        const got: string[] = [];
        listener.subscribe(SUBJECTS.allRates, {
          callback: (_e, m) => {
            got.push(m.string());
          },
        });
        await listener.flush();

        pod.publish(ratesSubject(PRODUCT, TARIFF), 'forged');
        await pod.flush(); // the server has handled (and refused) the publish before it answers the ping
        fetcher.publish(ratesSubject(PRODUCT, TARIFF), 'genuine');

        await check(() => violations.length > 0, { name: 'permission violation reported' });
        assert.equal(violations[0]?.operation, 'publish');
        assert.equal(violations[0]?.subject, ratesSubject(PRODUCT, TARIFF));
        await check(() => got.length > 0, { name: 'genuine push' });
        assert.deepEqual(got, ['genuine']);
      } finally {
        await listener.close();
      }
    });

    it('cannot write rates or checks', async () => {
      const rates = await kvm.open(BUCKETS.rates);
      const checks = await kvm.open(BUCKETS.checks);
      await assert.rejects(rates.put(KEY, 'forged'), isViolation(`$KV.${BUCKETS.rates}.${KEY}`));
      await assert.rejects(rates.create('NEW.KEY', 'forged'), isViolation(`$KV.${BUCKETS.rates}.NEW.KEY`));
      await assert.rejects(rates.delete(KEY), isViolation(`$KV.${BUCKETS.rates}.${KEY}`));
      await assert.rejects(checks.put(KEY, 'forged'), isViolation(`$KV.${BUCKETS.checks}.${KEY}`));
      assert.equal((await kv(BUCKETS.rates).get(KEY))?.string(), 'doc-seed');
      assert.equal((await kv(BUCKETS.checks).get(KEY))?.string(), 'checked-seed');
    });

    it('cannot read the lease or the URL cache', async () => {
      for (const bucket of [BUCKETS.lease, BUCKETS.urls]) {
        // open() only binds (no request); every read through the handle is refused
        const b = await kvm.open(bucket);
        await assert.rejects(b.status(), isViolation(`$JS.API.STREAM.INFO.KV_${bucket}`));
        await assert.rejects(b.get(LEASE_KEY), isViolation(`$JS.API.STREAM.MSG.GET.KV_${bucket}`));
        await assert.rejects(
          b.watch(),
          isViolation(new RegExp(`^\\$JS\\.API\\.CONSUMER\\.CREATE\\.KV_${bucket}\\.`)),
        );
        const direct = await kvm.open(bucket, { allow_direct: true });
        await assert.rejects(
          direct.get(URL_KEY),
          isViolation(new RegExp(`^\\$JS\\.API\\.DIRECT\\.GET\\.KV_${bucket}\\.`)),
        );
        await assert.rejects(
          kvm.create(bucket, { history: 1 }),
          isViolation(`$JS.API.STREAM.INFO.KV_${bucket}`),
        );
        await assert.rejects(b.put('k', 'v'), isViolation(`$KV.${bucket}.k`));
        // nor by listening to the writes or to the fetcher's replies
        for (const subject of [`$KV.${bucket}.>`, '_INBOX_fetcher.>']) {
          const sub = pod.subscribe(subject);
          assert.ok((await sub.closed) instanceof PermissionViolationError, `subscribe ${subject} refused`);
        }
      }
    });

    it('cannot create, delete or purge streams, nor delete the interest bucket', async () => {
      const jsm = await jetstreamManager(pod);
      await assert.rejects(
        jsm.streams.add({ name: 'EVIL', subjects: ['evil.>'] }),
        isViolation('$JS.API.STREAM.CREATE.EVIL'),
      );
      await assert.rejects(
        kvm.create('ratebus-evil', { history: 1 }),
        isViolation(/^\$JS\.API\.STREAM\.INFO\./),
      );
      await assert.rejects(
        jsm.streams.delete(`KV_${BUCKETS.rates}`),
        isViolation(`$JS.API.STREAM.DELETE.KV_${BUCKETS.rates}`),
      );
      await assert.rejects(
        jsm.streams.purge(`KV_${BUCKETS.checks}`),
        isViolation(`$JS.API.STREAM.PURGE.KV_${BUCKETS.checks}`),
      );
      const interest = await kvm.open(BUCKETS.interest);
      await assert.rejects(interest.destroy(), isViolation(`$JS.API.STREAM.DELETE.KV_${BUCKETS.interest}`));
      await assert.rejects(
        jsm.streams.update(`KV_${BUCKETS.interest}`, { max_age: 1 }),
        isViolation(`$JS.API.STREAM.UPDATE.KV_${BUCKETS.interest}`),
      );
      assert.equal((await kv(BUCKETS.interest).status()).bucket, BUCKETS.interest);
    });

    it('cannot answer refresh or URL requests', async () => {
      for (const [subject, queue] of [
        [SUBJECTS.allRefresh, undefined],
        [SUBJECTS.allRefresh, responderQueue(1)],
        [SUBJECTS.urlGet, responderQueue(1)],
      ] as const) {
        const sub = pod.subscribe(subject, queue ? { queue } : {});
        const err = await sub.closed;
        assert.ok(err instanceof PermissionViolationError, `subscribe ${subject} ${queue ?? ''} refused`);
        assert.equal(err.operation, 'subscription');
      }
    });
  });

  describe('gateway', () => {
    it("has the pod's rights: reads rates, writes interest, cannot write rates", async () => {
      const gw = await connectAs('gateway', ns.url);
      try {
        const kvm = new Kvm(jetstream(gw));
        const rates = await kvm.open(BUCKETS.rates);
        assert.ok(await rates.get(KEY));
        await (await kvm.open(BUCKETS.interest)).put('GATEWAY.T', 'gw');
        await assert.rejects(rates.put(KEY, 'forged'), isViolation(`$KV.${BUCKETS.rates}.${KEY}`));
      } finally {
        await gw.close();
      }
    });
  });

  describe('lastresort', () => {
    let lr: NatsConnection;
    let kvm: Kvm;
    const LOCK_KEY = `lastresort.${KEY}`;
    beforeEach(async () => {
      lr = await connectAs('lastresort', ns.url);
      kvm = new Kvm(jetstream(lr, { timeout: 2_000 }));
    });
    afterEach(async () => {
      await lr?.close();
    });

    it('takes, renews and releases a lock, reads the lease, writes a document and its check, publishes it', async () => {
      const lease = await kvm.open(BUCKETS.lease);
      assert.equal((await lease.status()).bucket, BUCKETS.lease);
      await kv(BUCKETS.lease).put(LEASE_KEY, 'fetcher-lease');
      assert.equal((await lease.get(LEASE_KEY))?.string(), 'fetcher-lease');
      const rev = await lease.create(LOCK_KEY, 'lock');
      const renewed = await lease.update(LOCK_KEY, 'lock', rev);
      await lease.delete(LOCK_KEY, { previousSeq: renewed });
      await lease.create(LOCK_KEY, 'lock-again'); // create after a delete re-reads the key
      await lease.delete(LOCK_KEY);

      const rates = await kvm.open(BUCKETS.rates);
      const checks = await kvm.open(BUCKETS.checks);
      const stored = await rates.get(NEW_KEY);
      const docRev = stored
        ? await rates.update(NEW_KEY, 'lr-doc', stored.revision)
        : await rates.create(NEW_KEY, 'lr-doc');
      await checks.put(NEW_KEY, 'lr-checked');
      assert.equal((await kv(BUCKETS.rates).get(NEW_KEY))?.revision, docRev);
      const pod = await connectAs('pod', ns.url);
      try {
        const sub = pod.subscribe(ratesSubject(PRODUCT, 'E-1R-AGILE-24-10-01-A'), { max: 1 });
        await pod.flush();
        lr.publish(ratesSubject(PRODUCT, 'E-1R-AGILE-24-10-01-A'), 'lr-doc');
        for await (const m of sub) assert.equal(m.string(), 'lr-doc');
      } finally {
        await pod.close();
      }
    });

    it("cannot take the fetchers' lease, write interest or the URL cache, or touch streams", async () => {
      const lease = await kvm.open(BUCKETS.lease);
      await assert.rejects(lease.put(LEASE_KEY, 'forged'), isViolation(`$KV.${BUCKETS.lease}.${LEASE_KEY}`));
      await assert.rejects(lease.delete(LEASE_KEY), isViolation(`$KV.${BUCKETS.lease}.${LEASE_KEY}`));
      const interest = await kvm.open(BUCKETS.interest);
      await assert.rejects(interest.put('X.Y', 'forged'), isViolation(`$KV.${BUCKETS.interest}.X.Y`));
      const urls = await kvm.open(BUCKETS.urls);
      await assert.rejects(urls.put(URL_KEY, 'forged'), isViolation(`$KV.${BUCKETS.urls}.${URL_KEY}`));
      await assert.rejects(urls.get(URL_KEY), isViolation(`$JS.API.STREAM.MSG.GET.KV_${BUCKETS.urls}`));
      const jsm = await jetstreamManager(lr, { checkAPI: false });
      await assert.rejects(
        jsm.streams.purge(`KV_${BUCKETS.rates}`),
        isViolation(`$JS.API.STREAM.PURGE.KV_${BUCKETS.rates}`),
      );
      await assert.rejects(
        jsm.streams.update(`KV_${BUCKETS.rates}`, { max_age: 1 }),
        isViolation(`$JS.API.STREAM.UPDATE.KV_${BUCKETS.rates}`),
      );
      assert.equal((await kv(BUCKETS.lease).get(LEASE_KEY))?.operation, 'PUT');
    });

    it('cannot answer requests nor see other roles’ replies', async () => {
      for (const [subject, queue] of [
        [SUBJECTS.allRefresh, responderQueue(1)],
        [SUBJECTS.urlGet, responderQueue(1)],
        ['_INBOX.>', undefined],
        ['_INBOX_fetcher.>', undefined],
      ] as const) {
        const sub = lr.subscribe(subject, queue ? { queue } : {});
        assert.ok((await sub.closed) instanceof PermissionViolationError, `subscribe ${subject} refused`);
      }
    });
  });

  describe('inspector', () => {
    let insp: NatsConnection;
    beforeEach(async () => {
      insp = await connectAs('inspector', ns.url);
    });
    afterEach(async () => {
      await insp?.close();
    });

    it('lists buckets, streams and consumers and reads every bucket', async () => {
      const js = jetstream(insp);
      const names: string[] = [];
      for await (const s of new Kvm(js).list()) names.push(s.bucket);
      assert.deepEqual(names.sort(), Object.keys(BUCKET_CONFIGS).sort());

      const jsm = await jetstreamManager(insp);
      const streams: string[] = [];
      for await (const n of jsm.streams.names()) streams.push(n);
      assert.ok(streams.includes(`KV_${BUCKETS.lease}`));
      assert.equal((await jsm.streams.info(`KV_${BUCKETS.rates}`)).config.max_msgs_per_subject, 1);
      for await (const _c of jsm.consumers.list(`KV_${BUCKETS.interest}`)) {
        // listing is what is checked
      }
      const direct = await jsm.direct.getMessage(`KV_${BUCKETS.rates}`, {
        last_by_subj: `$KV.${BUCKETS.rates}.${KEY}`,
      });
      assert.ok(direct);

      const kvm = new Kvm(js);
      assert.ok(await (await kvm.open(BUCKETS.rates)).get(KEY));
      assert.equal((await (await kvm.open(BUCKETS.urls)).get(URL_KEY))?.string(), 'cached');
      assert.ok((await (await kvm.open(BUCKETS.lease)).status()).values >= 0);
      const keys: string[] = [];
      for await (const k of await (await kvm.open(BUCKETS.interest)).keys()) keys.push(k);
      assert.ok(keys.includes(KEY));
    });

    it('watches a bucket and subscribes to live rates and KV writes', async () => {
      const rates = await new Kvm(jetstream(insp)).open(BUCKETS.rates);
      const seen: string[] = [];
      const watch = await rates.watch({ key: 'INSPECT.>' });
      const consumed = drain(watch, seen);
      const pushes: string[] = [];
      insp.subscribe(SUBJECTS.allRates, {
        callback: (_e, m) => {
          pushes.push(m.string());
        },
      });
      insp.subscribe(`$KV.${BUCKETS.rates}.>`, {
        callback: (_e, m) => {
          pushes.push(`kv:${m.subject}`);
        },
      });
      await insp.flush();

      await writeUntilSeen((v) => kv(BUCKETS.rates).put('INSPECT.T', v), 'INSPECT.T', seen);
      watch.stop();
      await consumed;
      fetcher.publish(ratesSubject(PRODUCT, TARIFF), 'live');
      await check(() => pushes.includes('live'), { name: 'live push' });
      assert.ok(pushes.includes(`kv:$KV.${BUCKETS.rates}.INSPECT.T`), pushes.join());
    });

    it('cannot write anything', async () => {
      const violations = collectViolations(insp);
      const kvm = new Kvm(jetstream(insp));
      const jsm = await jetstreamManager(insp);
      await assert.rejects(
        (await kvm.open(BUCKETS.rates)).put(KEY, 'x'),
        isViolation(`$KV.${BUCKETS.rates}.${KEY}`),
      );
      await assert.rejects(
        (await kvm.open(BUCKETS.interest)).create('INSP.T', 'x'),
        isViolation(`$KV.${BUCKETS.interest}.INSP.T`),
      );
      await assert.rejects(
        (await kvm.open(BUCKETS.lease)).delete(LEASE_KEY),
        isViolation(`$KV.${BUCKETS.lease}.${LEASE_KEY}`),
      );
      await assert.rejects(
        jsm.streams.add({ name: 'EVIL', subjects: ['evil.>'] }),
        isViolation('$JS.API.STREAM.CREATE.EVIL'),
      );
      await assert.rejects(
        jsm.streams.delete(`KV_${BUCKETS.rates}`),
        isViolation(`$JS.API.STREAM.DELETE.KV_${BUCKETS.rates}`),
      );
      await assert.rejects(
        jsm.streams.purge(`KV_${BUCKETS.rates}`),
        isViolation(`$JS.API.STREAM.PURGE.KV_${BUCKETS.rates}`),
      );
      await assert.rejects(
        jsm.consumers.delete(`KV_${BUCKETS.interest}`, 'any'),
        isViolation(`$JS.API.CONSUMER.DELETE.KV_${BUCKETS.interest}.any`),
      );
      await assert.rejects(
        insp.request(refreshSubject(PRODUCT, TARIFF), '{}'),
        isViolation(refreshSubject(PRODUCT, TARIFF)),
      );
      insp.publish(ratesSubject(PRODUCT, TARIFF), 'forged');
      await insp.flush();
      await check(() => violations.some((v) => v.subject === ratesSubject(PRODUCT, TARIFF)), {
        name: 'publish violation reported',
      });
      // listening on refresh would turn "no responders" into timeouts for pods
      const sub = insp.subscribe(SUBJECTS.allRefresh);
      assert.ok((await sub.closed) instanceof PermissionViolationError);
    });
  });
});
