import assert from 'node:assert/strict';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import {
  decodeRefreshReply,
  INVALID_REPLY,
  isNoResponders,
  isRequestTimeout,
  refreshRequest,
} from '@ratebus/bus';
import { makeDoc, tariffN } from '@ratebus/fixtures';
import { ERROR_CODE_HEADER, ERROR_HEADER, RefreshRequestSchema, tariffRef } from '@ratebus/schema';
import { NatsServer } from '@ratebus/testkit';

/** The refresh codec over a real request/reply: what each kind of answer decodes to. */
describe('@ratebus/bus refresh codec', function () {
  this.timeout(30_000);
  let ns: NatsServer;
  let nc: NatsConnection;
  const n91 = tariffN(91);
  const ref = tariffRef(n91.product, n91.tariff);
  const other = tariffN(92);

  before(async () => {
    ns = await NatsServer.start();
    nc = await connect({ servers: ns.url });
    // A responder answering by the `by` of the request: the document, an error, garbage, another tariff's.
    nc.subscribe('test.refresh', {
      callback: (_err, m) => {
        const req = RefreshRequestSchema.parse(JSON.parse(new TextDecoder().decode(m.data)));
        const h = headers();
        if (req.by === 'doc') m.respond(JSON.stringify(makeDoc(req.product, req.tariff)));
        else if (req.by === 'not-found') {
          h.set(ERROR_CODE_HEADER, 'NOT_FOUND');
          h.set(ERROR_HEADER, 'no such tariff');
          m.respond('', { headers: h });
        } else if (req.by === 'bare-code') {
          h.set(ERROR_CODE_HEADER, 'THROTTLED');
          m.respond('', { headers: h });
        } else if (req.by === 'garbage') m.respond('{"not":"a document"}');
        else m.respond(JSON.stringify(makeDoc(other.product, other.tariff)));
      },
    });
    await nc.flush();
  });
  after(async () => Promise.all([nc?.close(), ns?.stop()]));

  const ask = async (by: string) =>
    decodeRefreshReply(ref, await nc.request('test.refresh', JSON.stringify(refreshRequest(ref, by))));

  it('builds a request the schema accepts, with force only when asked', () => {
    const plain = RefreshRequestSchema.parse(refreshRequest(ref, 'pod-1'));
    assert.equal(plain.force, undefined);
    assert.equal(RefreshRequestSchema.parse(refreshRequest(ref, 'pod-1', true)).force, true);
    assert.deepEqual([plain.product, plain.tariff, plain.by], [ref.product, ref.tariff, 'pod-1']);
  });

  it('decodes a document, an error with and without a message, garbage and another tariff', async () => {
    const doc = await ask('doc');
    assert.ok(doc.ok && doc.document.tariff === ref.tariff);
    assert.deepEqual(await ask('not-found'), { ok: false, code: 'NOT_FOUND', message: 'no such tariff' });
    assert.deepEqual(await ask('bare-code'), { ok: false, code: 'THROTTLED', message: '' });
    const garbage = await ask('garbage');
    assert.ok(!garbage.ok && garbage.code === INVALID_REPLY && garbage.cause instanceof Error);
    const foreign = await ask('foreign');
    assert.ok(!foreign.ok && foreign.code === INVALID_REPLY && foreign.message.includes(other.tariff));
  });

  it('tells no responders from a timeout', async () => {
    const none = await nc.request('test.nobody', '', { timeout: 1_000 }).catch((e: unknown) => e);
    assert.ok(isNoResponders(none) && !isRequestTimeout(none), String(none));
    nc.subscribe('test.silent', { callback: () => {} });
    await nc.flush();
    const late = await nc.request('test.silent', '', { timeout: 200 }).catch((e: unknown) => e);
    assert.ok(isRequestTimeout(late) && !isNoResponders(late), String(late));
  });
});
