import assert from 'node:assert/strict';
import { jetstreamManager } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { isCasLoss, readThroughLeader } from '@ratebus/bus';
import { NatsServer } from '@ratebus/testkit';

/** `@ratebus/bus` against a real nats-server: what a lost compare-and-set is, and a read through the leader. */
describe('@ratebus/bus KV', function () {
  this.timeout(30_000);
  let ns: NatsServer;
  let nc: NatsConnection;
  let kv: KV;

  before(async () => {
    ns = await NatsServer.start();
    nc = await connect({ servers: ns.url });
    kv = await new Kvm(nc).create('bus-test', { history: 1 });
  });
  after(async () => Promise.all([nc?.close(), ns?.stop()]));

  /** The error a write throws, or null when it succeeded. */
  const failure = async (write: () => Promise<unknown>): Promise<unknown> =>
    write().then(
      () => null,
      (e: unknown) => e,
    );

  it('calls a create of an existing key and an update at a stale revision lost compare-and-sets', async () => {
    const rev = await kv.create('a', 'one');
    const created = await failure(() => kv.create('a', 'again'));
    assert.ok(created !== null && isCasLoss(created), `create of an existing key: ${String(created)}`);
    await kv.update('a', 'two', rev);
    const stale = await failure(() => kv.update('a', 'three', rev));
    assert.ok(stale !== null && isCasLoss(stale), `update at a stale revision: ${String(stale)}`);
    assert.equal((await kv.get('a'))?.string(), 'two', 'neither lost write landed');
  });

  it('does not call other failures lost compare-and-sets', async () => {
    const missing = await failure(() => new Kvm(nc).open('no-such-bucket').then((b) => b.status()));
    assert.ok(missing !== null);
    assert.equal(isCasLoss(missing), false);
    assert.equal(isCasLoss(new Error('wrong last sequence')), false, 'never decided on the message text');
    assert.equal(isCasLoss(undefined), false);
  });

  it('reads the latest entry of a key through the stream leader, deletions included', async () => {
    const jsm = await jetstreamManager(nc);
    assert.equal(await readThroughLeader(jsm, 'bus-test', 'never-written'), null);
    await kv.put('b', 'first');
    const rev = await kv.put('b', 'second');
    const put = await readThroughLeader(jsm, 'bus-test', 'b');
    assert.equal(put?.operation, 'PUT');
    assert.equal(put?.revision, rev);
    assert.equal(put?.key, 'b');
    assert.equal(new TextDecoder().decode(put?.value), 'second');
    assert.ok(put && Math.abs(put.created.getTime() - Date.now()) < 60_000, 'the server timestamp');
    const delRev = await kv.delete('b').then(async () => (await kv.status()).streamInfo.state.last_seq);
    const del = await readThroughLeader(jsm, 'bus-test', 'b');
    assert.equal(del?.operation, 'DEL');
    assert.equal(del?.revision, delRev);
  });
});
