import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { makeDoc, tariffN } from '@ratebus/fixtures';
import { BUCKETS, LEASE_KEY, type LeaseValue, SCHEMA_VERSION } from '@ratebus/schema';
import { NatsServer } from '@ratebus/testkit';
import { accountsConfig, connectAs, PASSWORDS, ROLE_ENV } from '../nats-security/roles.js';
import { runCli } from './cli.js';

describe('ratebus CLI with services/nats/accounts.conf', function () {
  this.timeout(30_000);
  let ns: NatsServer;
  let fetcher: NatsConnection;
  const t = tariffN(1);

  before(async () => {
    ns = await NatsServer.start({ extraConfig: accountsConfig(), env: ROLE_ENV });
    fetcher = await connectAs('fetcher', ns.url);
    const kvm = new Kvm(jetstream(fetcher, { timeout: 2_000 }));
    const rates = await kvm.create(BUCKETS.rates, { history: 1 });
    await kvm.create(BUCKETS.checks, { history: 1 });
    await kvm.create(BUCKETS.interest, { history: 1, ttl: 60 * 60_000 });
    const lease = await kvm.create(BUCKETS.lease, { history: 1, ttl: 60_000 });
    const doc = makeDoc(t.product, t.tariff, { term: 5 });
    await rates.put(`${t.product}.${t.tariff}`, JSON.stringify(doc));
    const value: LeaseValue = {
      type: 'lease',
      schemaVersion: SCHEMA_VERSION,
      holder: 'fetcher-b',
      nonce: randomUUID(),
      acquiredAt: new Date().toISOString(),
    };
    await lease.create(LEASE_KEY, JSON.stringify(value));
  });
  after(async () => {
    await fetcher?.close();
    await ns?.stop();
  });

  it("the pod user's status lists the tariffs and says the lease is not readable", async () => {
    const env = { NATS_URL: ns.url, NATS_USER: 'pod', NATS_PASSWORD: PASSWORDS.pod };
    const r = await runCli(['status'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^leader:\s+unknown \(no permission to read the lease\)$/m);
    assert.match(r.stdout, new RegExp(`^${t.product}\\s+${t.tariff}\\s+fresh\\s`, 'm'));
    const json = JSON.parse((await runCli(['status', '--json'], env)).stdout);
    assert.deepEqual(json.leader, { readable: false, reason: 'no permission to read the lease' });
    assert.equal(json.term, 5);
  });

  it("the inspector's status shows the leader (its own inbox prefix, chosen from the user name)", async () => {
    const r = await runCli([
      'status',
      '--json',
      '--server',
      ns.url,
      '--user',
      'inspector',
      '--password',
      PASSWORDS.inspector,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.leader.holder, 'fetcher-b');
    assert.equal(report.tariffs[0].freshness, 'fresh');
    assert.equal(report.tariffs[0].interest, false);
  });

  it('the inspector may not send refresh requests: a permission error, exit 1', async () => {
    const r = await runCli(['refresh', t.product, t.tariff, '--timeout', '3s'], {
      NATS_URL: ns.url,
      NATS_USER: 'inspector',
      NATS_PASSWORD: PASSWORDS.inspector,
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /permission denied on ratebus\.refresh\./);
  });

  it('a wrong password is refused with exit 1', async () => {
    const r = await runCli([
      'status',
      '--server',
      ns.url,
      '--user',
      'pod',
      '--password',
      'wrongPassword_000',
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /login as pod refused/);
  });
});
