import assert from 'node:assert/strict';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { isNoResponders, Responder } from '@ratebus/bus';
import { NatsServer } from '@ratebus/testkit';

/** The responder lifecycle the fetcher's refresh and URL-cache responders share, on a real server. */
describe('@ratebus/bus Responder', function () {
  this.timeout(30_000);
  let ns: NatsServer;
  let nc: NatsConnection;

  before(async () => {
    ns = await NatsServer.start();
    nc = await connect({ servers: ns.url });
  });
  after(async () => {
    await nc?.close();
    await ns?.stop();
  });

  it('answers while started, waits for the answer in flight on stop, and can start again', async () => {
    let release = (): void => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let answered = 0;
    const r = new Responder({
      nc,
      subject: 'test.responder',
      queue: 'q',
      handle: async (msg) => {
        if (new TextDecoder().decode(msg.data) === 'slow') await gate;
        msg.respond('ok');
        answered++;
      },
      onError: () => undefined,
    });
    r.start();
    r.start(); // already subscribed: still one answer per request
    assert.equal((await nc.request('test.responder', 'fast', { timeout: 2_000 })).string(), 'ok');
    assert.equal(answered, 1);

    const slow = nc.request('test.responder', 'slow', { timeout: 5_000 });
    await nc.flush();
    let stopped = false;
    const stopping = r.stop().then(() => {
      stopped = true;
    });
    await new Promise((res) => setTimeout(res, 100));
    assert.equal(stopped, false, 'stop waits for the request being answered');
    release();
    await stopping;
    assert.equal((await slow).string(), 'ok');
    await assert.rejects(nc.request('test.responder', 'x', { timeout: 1_000 }), (e) => isNoResponders(e));

    r.start();
    assert.equal((await nc.request('test.responder', 'again', { timeout: 2_000 })).string(), 'ok');
    await r.stop();
    await r.stop(); // idempotent
  });
});
