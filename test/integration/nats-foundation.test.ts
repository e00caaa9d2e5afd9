import assert from 'node:assert/strict';
import { JetStreamApiCodes, JetStreamApiError, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import { check, NatsCluster, NatsServer } from '@ratebus/testkit';

describe('real NATS (test kit)', () => {
  describe('single server', () => {
    let ns: NatsServer;
    before(async () => {
      ns = await NatsServer.start();
    });
    after(async () => {
      await ns?.stop();
    });

    it('never uses the shared server on 4222', () => {
      assert.notEqual(ns.port, 4222);
    });

    it('KV bucket: create, CAS update, stale update rejected by code, watch sees every change', async () => {
      const nc = await connect({ servers: ns.url });
      try {
        const kv = await new Kvm(nc).create('foundation', { history: 5 });
        const seen: string[] = [];
        const watch = await kv.watch({ key: 'k' });
        const consumed = (async () => {
          for await (const e of watch) seen.push(`${e.operation}:${e.string()}:${e.revision}`);
        })();

        const r1 = await kv.create('k', 'one');
        await assert.rejects(kv.create('k', 'again'), (e: unknown) => {
          assert.ok(e instanceof JetStreamApiError);
          assert.equal(e.code, JetStreamApiCodes.StreamWrongLastSequence);
          return true;
        });
        const r2 = await kv.update('k', 'two', r1);
        assert.ok(r2 > r1);
        await assert.rejects(kv.update('k', 'stale', r1), (e: unknown) => {
          assert.ok(e instanceof JetStreamApiError);
          assert.equal(e.code, JetStreamApiCodes.StreamWrongLastSequence);
          return true;
        });
        assert.equal((await kv.get('k'))?.string(), 'two');
        await check(() => seen.length >= 2, { name: 'watch events' });
        assert.deepEqual(seen, [`PUT:one:${r1}`, `PUT:two:${r2}`]);
        watch.stop();
        await consumed;
      } finally {
        await nc.close();
      }
    });
  });

  describe('3-node cluster', function () {
    this.timeout(120_000);
    let cluster: NatsCluster;
    before(async () => {
      cluster = await NatsCluster.start({ size: 3 });
    });
    after(async () => {
      await cluster?.stop();
    });

    it('keeps an R3 KV bucket readable and writable after the stream leader is killed', async () => {
      const nc = await connect({ servers: cluster.urls, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
      try {
        const js = jetstream(nc, { timeout: 2_000 });
        const kv = await new Kvm(js).create('replicated', { replicas: 3, history: 1 });
        // A new R3 stream may answer "no responders" for a moment after its create (seen on 2.15.1).
        const rev = await check(async () => kv.put('k', 'before'), {
          timeout: 10_000,
          interval: 100,
          name: 'first put',
        });
        const jsm = await jetstreamManager(nc);
        const info = await jsm.streams.info('KV_replicated');
        assert.equal(info.config.num_replicas, 3);
        const leaderName = info.cluster?.leader;
        assert.ok(leaderName, 'stream has a leader');

        await cluster.node(leaderName).kill('SIGKILL');

        // Writes resume once a new stream leader is elected among the two survivors.
        const rev2 = await check(async () => kv.update('k', 'after', rev), {
          timeout: 60_000,
          interval: 250,
          name: 'write after stream leader loss',
        });
        assert.ok(rev2 > rev);
        const entry = await check(async () => kv.get('k'), {
          timeout: 30_000,
          name: 'read after leader loss',
        });
        assert.equal(entry.string(), 'after');
        const newLeader = await check(async () => (await jsm.streams.info('KV_replicated')).cluster?.leader, {
          timeout: 30_000,
          name: 'new stream leader',
        });
        assert.notEqual(newLeader, leaderName);
      } finally {
        await nc.close();
      }
    });
  });
});
