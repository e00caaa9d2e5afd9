import assert from 'node:assert/strict';
import { type KV, Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { type Fence, publishDocument, type StoredDocument, writeChecked } from '@ratebus/bus';
import { makeDoc } from '@ratebus/fixtures';
import {
  CheckedSchema,
  decodeOrThrow,
  type RatesDocument,
  rateKey,
  ratesSubject,
  tariffRef,
} from '@ratebus/schema';
import { NatsServer } from '@ratebus/testkit';

class Fenced extends Error {
  constructor(readonly term: number) {
    super(`term ${term} is fenced off`);
    this.name = 'Fenced';
  }
}

/** A fence that holds until `end()`. */
function fence(term: number): Fence & { end(): void } {
  const c = new AbortController();
  return {
    term,
    signal: c.signal,
    assertLeading: () => {
      if (c.signal.aborted) throw new Fenced(term);
    },
    end: () => c.abort(new Fenced(term)),
  };
}

const PRODUCT = 'AGILE-FW';
const TARIFF = 'E-1R-AGILE-FW-A';
const ref = tariffRef(PRODUCT, TARIFF);
const key = rateKey(PRODUCT, TARIFF);

/** `@ratebus/bus` fenced writer against a real nats-server: write, publish, Checked record. */
describe('@ratebus/bus fenced writer', function () {
  this.timeout(30_000);
  let ns: NatsServer;
  let nc: NatsConnection;
  let rates: KV;
  let checks: KV;
  let n = 0;

  beforeEach(async () => {
    ns = await NatsServer.start();
    nc = await connect({ servers: ns.url });
    const kvm = new Kvm(nc);
    n += 1;
    [rates, checks] = await Promise.all([
      kvm.create(`fw-rates-${n}`, { history: 1 }),
      kvm.create(`fw-checks-${n}`, { history: 1 }),
    ]);
  });
  afterEach(async () => Promise.all([nc?.close(), ns?.stop()]));

  /** The messages published on the tariff's subject, collected from now. */
  function published(): Uint8Array[] {
    const got: Uint8Array[] = [];
    nc.subscribe(ratesSubject(PRODUCT, TARIFF), {
      callback: (_e, m) => {
        got.push(m.data);
      },
    });
    return got;
  }

  const write = (doc: RatesDocument, f: Fence, stored: StoredDocument, reread = async () => stored) =>
    publishDocument({ nc, rates, fence: f, ref, key, doc, stored, guard: () => null, reread });

  it('writes a changed document with CAS and publishes the same bytes; an unchanged one is not written', async () => {
    const got = published();
    const doc = makeDoc(PRODUCT, TARIFF, { term: 5 });
    const first = await write(doc, fence(5), { doc: null, revision: null });
    assert.equal(first.kind, 'published');
    assert.ok(first.kind === 'published');
    const stored = await rates.get(key);
    assert.equal(stored?.revision, first.revision);
    const text = (b: Uint8Array | undefined) => new TextDecoder().decode(b);
    assert.equal(text(stored?.value), text(first.bytes));
    await nc.flush();
    assert.deepEqual(got.map(text), [text(first.bytes)], 'the stored bytes, published');
    const again = await write(doc, fence(5), { doc, revision: first.revision });
    assert.equal(again.kind, 'unchanged');
    assert.equal((await rates.get(key))?.revision, first.revision, 'nothing written');
  });

  it('after a lost CAS reads the store again and retries on it; a rejection by the guard stops it', async () => {
    const older = makeDoc(PRODUCT, TARIFF, { term: 4, seed: 1 });
    const rev = await rates.create(key, JSON.stringify(older));
    const doc = makeDoc(PRODUCT, TARIFF, { term: 5, seed: 2 });
    let rereads = 0;
    const reread = async () => {
      rereads += 1;
      return { doc: older, revision: rev };
    };
    // Our view was that nothing is stored: the create loses, the store is read again, the update wins.
    const r = await write(doc, fence(5), { doc: null, revision: null }, reread);
    assert.equal(r.kind, 'published');
    assert.equal(rereads, 1);
    const rejected = await publishDocument({
      nc,
      rates,
      fence: fence(5),
      ref,
      key,
      doc: makeDoc(PRODUCT, TARIFF, { term: 5, seed: 3 }),
      stored: { doc, revision: (await rates.get(key))?.revision ?? null },
      guard: (s) => (s === null ? null : 'shrinking'),
      reread,
    });
    assert.deepEqual(rejected, { kind: 'rejected', rejection: 'shrinking' });
  });

  it('writes and publishes nothing once the fence is off', async () => {
    const got = published();
    const f = fence(5);
    f.end();
    await assert.rejects(
      write(makeDoc(PRODUCT, TARIFF, { term: 5 }), f, { doc: null, revision: null }),
      Fenced,
    );
    assert.equal(await rates.get(key), null);
    await nc.flush();
    assert.equal(got.length, 0);
  });

  it('writes the Checked record of its term with CAS, never over a record of a newer term', async () => {
    const doc = makeDoc(PRODUCT, TARIFF, { term: 5 });
    const w = await writeChecked({
      checks,
      fence: fence(5),
      key,
      doc,
      stored: null,
      reread: async () => null,
    });
    assert.ok(w.kind === 'written');
    const record = decodeOrThrow(
      CheckedSchema,
      'Checked',
      (await checks.get(key))?.value ?? new Uint8Array(),
    );
    assert.equal(record.term, 5);
    assert.equal(record.contentHash, doc.contentHash);
    assert.equal(record.checkedAt, doc.fetchedAt);

    const newer = makeDoc(PRODUCT, TARIFF, { term: 9 });
    const rev = await checks.put(key, JSON.stringify({ ...record, term: 9, contentHash: newer.contentHash }));
    // Our base is our own old record: the CAS loses, the read shows term 9, and ours is not written.
    const r = await writeChecked({
      checks,
      fence: fence(5),
      key,
      doc,
      stored: { revision: w.revision, term: 5 },
      reread: async () => ({ revision: rev, term: 9 }),
    });
    assert.deepEqual(r, { kind: 'newer', storedTerm: 9 });
    assert.equal((await checks.get(key))?.revision, rev, 'the newer record stands');
  });
});
