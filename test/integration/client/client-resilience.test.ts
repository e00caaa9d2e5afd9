import assert from 'node:assert/strict';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { RateClient } from '@ratebus/client';
import { createBuckets, FAST_LINK, makeDoc, putDoc, tariffN } from '@ratebus/fixtures';
import { rateKey } from '@ratebus/schema';
import { check, NatsCluster, NatsServer, TcpProxy } from '@ratebus/testkit';

const FAST = { ...FAST_LINK, resyncIntervalMs: 1_000, resyncGraceMs: 100 };

describe('RateClient resilience', function () {
  this.timeout(60_000);
  const { product, tariff } = tariffN(11);

  describe('single server', () => {
    let ns: NatsServer;
    let admin: NatsConnection;
    const clients: RateClient[] = [];
    const proxies: TcpProxy[] = [];

    before(async () => {
      ns = await NatsServer.start();
      admin = await connect({ servers: ns.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
      await createBuckets(admin);
    });
    afterEach(async () => {
      await Promise.all(clients.splice(0).map((c) => c.close()));
      await Promise.all(proxies.splice(0).map((p) => p.close()));
    });
    after(async () => {
      await admin?.close();
      await ns?.stop();
    });

    it('holds a document written during a half-open link within its resync interval, without another write', async () => {
      const bus = await createBuckets(admin);
      const proxy = await TcpProxy.start(ns.port);
      proxies.push(proxy);
      const c = await RateClient.connect({ servers: proxy.url, ...FAST });
      clients.push(c);
      await c.ready();
      const v1 = await putDoc(bus, makeDoc(product, tariff, { seed: 1 }));
      await check(() => c.get(product, tariff)?.revision === v1, { name: 'v1' });

      proxy.blackhole();
      const v2doc = makeDoc(product, tariff, { seed: 2, term: 2 });
      const v2 = await putDoc(bus, v2doc);
      proxy.restore(); // new connections pass again; the client's current link stays silently dead

      // Dead-link detection (3 × 300 ms pings) + reconnect + one resync interval, with headroom.
      await check(() => c.get(product, tariff)?.revision === v2, {
        timeout: 15_000,
        name: 'v2 after the outage',
      });
      assert.equal(c.get(product, tariff)?.document.contentHash, v2doc.contentHash);
      assert.ok(c.stats().reconnects >= 1, 'the link was found dead and replaced');
      assert.equal((await bus.rates.status()).streamInfo.state.last_seq, v2, 'no further write happened');
    });

    it('recovers from a watch consumer lost on the server within its resync interval (no 60 s heartbeat wait)', async () => {
      const bus = await createBuckets(admin);
      const l = tariffN(14);
      const c = await RateClient.connect({ servers: ns.url, ...FAST });
      clients.push(c);
      await c.ready();
      const jsm = await jetstreamManager(admin);
      for await (const ci of jsm.consumers.list('KV_ratebus-rates')) {
        await jsm.consumers.delete('KV_ratebus-rates', ci.name);
      }
      const latest = makeDoc(l.product, l.tariff, { seed: 8, term: 8 });
      const rev = await putDoc(bus, latest);
      await check(() => c.get(l.product, l.tariff)?.revision === rev, {
        timeout: 10_000,
        name: 'update after consumer loss',
      });
      assert.ok(c.stats().resyncs.resume >= 1, 'a resync check resumed the watch');
    });

    it('keeps serving a document removed without any watch event (stream purge) after the next relist', async () => {
      const bus = await createBuckets(admin);
      const c = await RateClient.connect({ servers: ns.url, ...FAST, relistIntervalMs: 500 });
      clients.push(c);
      const gone = tariffN(12);
      const rev = await putDoc(bus, makeDoc(gone.product, gone.tariff, { term: 9 }));
      await c.ready();
      await check(() => c.get(gone.product, gone.tariff), { name: 'held' });
      const jsm = await jetstreamManager(admin);
      await jsm.streams.purge('KV_ratebus-rates', {
        filter: `$KV.ratebus-rates.${rateKey(gone.product, gone.tariff)}`,
      });
      await check(() => c.stats().unlisted >= 1 || c.get(gone.product, gone.tariff) === undefined, {
        name: 'a listing after the purge',
      });
      assert.equal(c.get(gone.product, gone.tariff)?.revision, rev, 'still served');
      assert.equal(c.stats().removed, 0);
    });

    it('converges on the latest document after a server restart, without restarting the client', async () => {
      const bus = await createBuckets(admin);
      const r = tariffN(13);
      const c = await RateClient.connect({ servers: ns.url, ...FAST });
      clients.push(c);
      await c.ready();
      const before = await putDoc(bus, makeDoc(r.product, r.tariff, { seed: 3, term: 3 }));
      await check(() => c.get(r.product, r.tariff)?.revision === before, { name: 'before restart' });

      await ns.restart();
      const latest = makeDoc(r.product, r.tariff, { seed: 4, term: 3 });
      const rev = await check(async () => putDoc(bus, latest), {
        timeout: 15_000,
        name: 'write after restart',
      });
      await check(() => c.get(r.product, r.tariff)?.revision === rev, {
        timeout: 15_000,
        name: 'latest after restart',
      });
      assert.equal(c.get(r.product, r.tariff)?.document.contentHash, latest.contentHash);
    });
  });

  /*
   * "Kill/start with a new port list": the client is configured with ONE seed URL of a 3-node cluster.
   * The other two nodes are restarted on new client ports (the client learns them from the cluster's
   * INFO gossip, as a pod learns a re-scheduled cluster), then the seed node is killed. The client must
   * reconnect to a node whose address it was never given and converge on a document written meanwhile.
   */
  describe('3-node cluster whose nodes come back on new ports', function () {
    this.timeout(120_000);
    let cluster: NatsCluster;
    let admin: NatsConnection;
    let client: RateClient;

    before(async () => {
      cluster = await NatsCluster.start({ size: 3 });
    });
    after(async () => {
      await client?.close();
      await admin?.close();
      await cluster?.stop();
    });

    it('converges without restarting after the nodes it knew are gone', async () => {
      admin = await connect({ servers: cluster.urls, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
      const bus = await createBuckets(admin, { replicas: 3 });
      const [seed, n2, n3] = cluster.nodes as [NatsServer, NatsServer, NatsServer];
      client = await RateClient.connect({ servers: seed.url, ...FAST, jsTimeoutMs: 3_000 });
      await client.ready();
      // A new R3 stream may answer "no responders" for a moment after its create (seen on 2.15.1).
      const first = makeDoc(product, tariff, { seed: 5, term: 5 });
      const r1 = await check(async () => putDoc(bus, first), {
        timeout: 10_000,
        interval: 100,
        name: 'first write',
      });
      await check(() => client.get(product, tariff)?.revision === r1, { name: 'first document' });

      const oldPorts = [n2.port, n3.port];
      for (const n of [n2, n3]) {
        await n.restart({ newPorts: true });
        await cluster.waitForMetaLeader();
      }
      assert.ok(!oldPorts.includes(n2.port) && !oldPorts.includes(n3.port), 'nodes moved');
      await seed.kill('SIGKILL');

      await admin.close();
      admin = await connect({ servers: [n2.url, n3.url], maxReconnectAttempts: -1, reconnectTimeWait: 100 });
      await cluster.waitForMetaLeader();
      const bus2 = await check(() => createBuckets(admin, { replicas: 3 }), {
        timeout: 30_000,
        name: 'JetStream on survivors',
      });
      const latest = makeDoc(product, tariff, { seed: 6, term: 5 });
      const r2 = await check(async () => putDoc(bus2, latest), {
        timeout: 30_000,
        interval: 250,
        name: 'write on survivors',
      });
      await check(() => client.get(product, tariff)?.revision === r2, {
        timeout: 30_000,
        name: 'client converged',
      });
      assert.equal(client.get(product, tariff)?.document.contentHash, latest.contentHash);
      assert.ok(client.stats().reconnects >= 1, 'reconnected to a node it learned by gossip');
    });
  });
});
