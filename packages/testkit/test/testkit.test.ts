import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type AddressInfo, createConnection, createServer } from 'node:net';
import {
  CheckTimeoutError,
  check,
  freePort,
  ManagedProcess,
  NatsCluster,
  NatsServer,
  NatsServerMissingError,
  natsServerBinary,
  processState,
  TcpProxy,
} from '../src/index.js';

describe('testkit', () => {
  it('names the install command when nats-server is missing', async () => {
    const saved = process.env.NATS_SERVER_BIN;
    process.env.NATS_SERVER_BIN = '/nonexistent/nats-server';
    try {
      assert.throws(() => natsServerBinary(), NatsServerMissingError);
      await assert.rejects(NatsServer.start(), (e: unknown) => {
        assert.ok(e instanceof NatsServerMissingError);
        assert.match(e.message, /apt-get install -y nats-server/);
        return true;
      });
    } finally {
      if (saved === undefined) delete process.env.NATS_SERVER_BIN;
      else process.env.NATS_SERVER_BIN = saved;
    }
  });

  it('check() returns the first truthy value and times out with a typed error', async () => {
    let n = 0;
    assert.equal(await check(() => (++n >= 3 ? n : 0), { interval: 1 }), 3);
    await assert.rejects(
      check(() => false, { timeout: 50, name: 'never' }),
      CheckTimeoutError,
    );
  });

  it('pauses and resumes a process', async () => {
    await using proc = await ManagedProcess.start({
      name: 'ticker',
      command: process.execPath,
      args: ['-e', 'let i = 0; setInterval(() => console.log("tick " + i++), 20)'],
    });
    await proc.waitForOutput(/tick 2/);
    proc.pause();
    await check(() => processState(proc.pid) === 'T', { name: 'stopped state' });
    const frozen = proc.output().length;
    // While stopped the process cannot print; after SIGCONT it goes on from where it was.
    assert.equal(processState(proc.pid), 'T');
    assert.equal(proc.output().length, frozen);
    proc.resume();
    await check(() => processState(proc.pid) !== 'T', { name: 'running state' });
    await check(() => proc.output().length > frozen, { name: 'output after resume' });
  });

  it('starts a nats-server on ephemeral ports and stops it', async () => {
    const ns = await NatsServer.start();
    assert.ok(ns.port > 0 && ns.port !== 4222);
    const varz = await ns.monitor<{ jetstream?: { config?: unknown } }>('varz');
    assert.ok(varz.jetstream?.config, 'JetStream enabled');
    await ns.stop();
    assert.equal(ns.running, false);
  });

  it('a blackholed proxy keeps the connection open but passes no bytes', async () => {
    await using ns = await NatsServer.start({ jetstream: false });
    await using proxy = await TcpProxy.start(ns.port);
    const sock = createConnection({ host: '127.0.0.1', port: proxy.port });
    let got = '';
    sock.on('data', (c) => {
      got += c.toString();
    });
    await check(() => got.startsWith('INFO'), { name: 'INFO through proxy' });
    proxy.blackhole();
    const before = got.length;
    sock.write('CONNECT {}\r\nPING\r\n');
    await assert.rejects(
      check(() => got.length > before, { timeout: 300 }),
      CheckTimeoutError,
    );
    assert.equal(sock.destroyed, false);
    sock.destroy();
  });
});

describe('NatsCluster', function () {
  this.timeout(60_000);

  it('starts again on new ports when a port it picked is taken before the server binds it', async () => {
    const squatter = createServer().listen(0, '127.0.0.1');
    await once(squatter, 'listening');
    const taken = (squatter.address() as AddressInfo).port;
    const picks: number[][] = [];
    const pickPorts = async (count: number, avoid: readonly number[]) => {
      const ports: number[] = [];
      while (ports.length < count) {
        const p = await freePort();
        if (!ports.includes(p) && !avoid.includes(p) && p !== taken) ports.push(p);
      }
      // The first client ports include one another process holds.
      if (picks.length === 1) ports[0] = taken;
      picks.push(ports);
      return ports;
    };
    try {
      const cluster = await NatsCluster.start({ name: 'retry', pickPorts });
      try {
        assert.equal(picks.length, 4, 'two attempts, two picks each');
        assert.ok(!cluster.nodes.some((n) => n.port === taken));
        assert.ok(await cluster.waitForMetaLeader());
      } finally {
        await cluster.stop();
      }
    } finally {
      squatter.close();
    }
  });
});
