import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { createBuckets, makeDoc, publish, type ServiceProcess, startGateway } from '@ratebus/fixtures';
import { check, freePort, NatsServer } from '@ratebus/testkit';

const PATH = '/v1/products/AGILE-24-10-01/electricity-tariffs/E-1R-AGILE-24-10-01-C/standard-unit-rates/';

describe('npm run gateway (the process)', function () {
  this.timeout(60_000);
  let ns: NatsServer;
  let admin: NatsConnection;
  let dir: string;
  let proc: ServiceProcess | undefined;

  before(async () => {
    ns = await NatsServer.start();
    admin = await connect({ servers: ns.url });
    await publish(
      await createBuckets(admin),
      makeDoc('AGILE-24-10-01', 'E-1R-AGILE-24-10-01-C', { slots: 150 }),
    );
    dir = mkdtempSync(join(tmpdir(), 'ratebus-gw-proc-'));
  });
  after(async () => {
    await proc?.stop(3_000);
    await admin?.close();
    await ns?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('starts from env, gets ready, serves, mirrors, never logs credentials and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    proc = await startGateway({
      natsUrl: ns.url,
      port,
      logLevel: 'debug',
      env: { MIRROR_DIR: join(dir, 'mirror'), CACHE_DIR: join(dir, 'cache') },
    });
    const base = `http://127.0.0.1:${port}`;
    await check(async () => (await fetch(`${base}/readyz`)).status === 200, {
      timeout: 20_000,
      name: 'ready',
    });
    const secret = 'sk_live_ProcessSecret42';
    const res = await fetch(`${base}${PATH}`, {
      headers: { authorization: `Basic ${Buffer.from(`${secret}:`).toString('base64')}` },
    });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { count: number }).count, 150);
    const tariffs = join(dir, 'mirror', 'shared', 'tariffs');
    await check(() => existsSync(join(tariffs, 'AGILE-24-10-01_E-1R-AGILE-24-10-01-C.yaml')), {
      name: 'mirror',
    });
    assert.match(
      await (await fetch(`${base}/metrics`)).text(),
      /ratebus_gateway_requests_total\{route="rates"/,
    );

    const p = proc.proc;
    p.child.kill('SIGTERM');
    const exit = await p.exited;
    assert.equal(exit.code, 0, p.output().slice(-2_000));
    assert.deepEqual(readdirSync(tariffs), ['AGILE-24-10-01_E-1R-AGILE-24-10-01-C.yaml'], 'no temp files');
    const out = p.output();
    assert.ok(out.includes('"route":"rates"'), 'requests are logged');
    assert.ok(!out.includes(secret) && !out.includes(Buffer.from(`${secret}:`).toString('base64')));
    proc = undefined;
  });
});
