import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { jetstream } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import { connect, headers, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { type Buckets, createBuckets, makeDoc, putCheck, putDoc, tariffN } from '@ratebus/fixtures';
import {
  BUCKETS,
  decode,
  ERROR_CODE_HEADER,
  ERROR_HEADER,
  type Interest,
  LEASE_KEY,
  type LeaseValue,
  type RatesDocument,
  RefreshRequestSchema,
  rateKey,
  responderQueue,
  SCHEMA_VERSION,
  SUBJECTS,
  tariffRef,
} from '@ratebus/schema';
import { check, NatsServer } from '@ratebus/testkit';
import { runCli, startCli } from './cli.js';

const MIN = 60_000;

describe('ratebus CLI', function () {
  this.timeout(30_000);
  let ns: NatsServer;
  let nc: NatsConnection;
  let bus: Buckets;
  let server: string[];
  const fresh = tariffN(1);
  const stale = tariffN(2);
  const expired = tariffN(3);
  let freshDoc: RatesDocument;
  let leaseKv: KV;
  let leaseValue: LeaseValue;

  before(async () => {
    ns = await NatsServer.start();
    nc = await connect({ servers: ns.url });
    bus = await createBuckets(nc);
    server = ['--server', ns.url];
    const now = Date.now();
    // fresh only through its confirmation: the document itself is 50 min old
    freshDoc = makeDoc(fresh.product, fresh.tariff, { term: 3, seed: 1, fetchedAt: now - 50 * MIN });
    await putDoc(bus, freshDoc);
    await putCheck(bus, { ...freshDoc, term: 4 }, now);
    await putDoc(bus, makeDoc(stale.product, stale.tariff, { term: 2, seed: 2, fetchedAt: now - 32 * MIN }));
    await putDoc(
      bus,
      makeDoc(expired.product, expired.tariff, { term: 2, seed: 3, fetchedAt: now - 2 * 60 * MIN }),
    );
    const interest: Interest = {
      type: 'interest',
      schemaVersion: SCHEMA_VERSION,
      ...tariffRef(fresh.product, fresh.tariff),
      renewedAt: new Date(now).toISOString(),
      by: 'pod-1',
    };
    await bus.interest.put(rateKey(fresh.product, fresh.tariff), JSON.stringify(interest));
    const lease = await new Kvm(jetstream(nc)).create(BUCKETS.lease, { history: 1 });
    const value: LeaseValue = {
      type: 'lease',
      schemaVersion: SCHEMA_VERSION,
      holder: 'fetcher-a',
      nonce: randomUUID(),
      acquiredAt: new Date(now - 5 * MIN).toISOString(),
      durationMs: 60 * MIN,
    };
    leaseKv = lease;
    leaseValue = value;
    await lease.create(LEASE_KEY, JSON.stringify(value));
  });
  after(async () => {
    await nc?.close();
    await ns?.stop();
  });

  describe('status', () => {
    it('lists every tariff with the freshness the client computes, the leader and the highest term', async () => {
      const r = await runCli(['status', '--json', ...server]);
      assert.equal(r.code, 0, r.stderr);
      const report = JSON.parse(r.stdout);
      assert.equal(report.leader.holder, 'fetcher-a');
      assert.equal(report.leader.lapsed, false);
      assert.equal(report.leader.durationMs, 60 * MIN);
      assert.equal(report.term, 4, 'the check carries a newer term than any document');
      const byTariff = Object.fromEntries(report.tariffs.map((t: { tariff: string }) => [t.tariff, t]));
      assert.deepEqual(Object.keys(byTariff).sort(), [fresh.tariff, stale.tariff, expired.tariff].sort());
      assert.equal(byTariff[fresh.tariff].freshness, 'fresh');
      assert.equal(byTariff[stale.tariff].freshness, 'stale');
      assert.equal(byTariff[expired.tariff].freshness, 'expired');
      assert.equal(byTariff[fresh.tariff].interest, true);
      assert.equal(byTariff[stale.tariff].interest, false);
      assert.equal(byTariff[fresh.tariff].coversThrough, freshDoc.coversThrough);
      assert.equal(byTariff[fresh.tariff].term, 3);
    });

    it('prints the same for a person: leader, term and a table row per tariff', async () => {
      const r = await runCli(['status', ...server]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^leader:\s+fetcher-a \(since /m);
      assert.match(r.stdout, /^term:\s+4 /m);
      assert.match(r.stdout, /PRODUCT\s+TARIFF\s+FRESHNESS\s+AGE/);
      assert.match(r.stdout, new RegExp(`^${fresh.product}\\s+${fresh.tariff}\\s+fresh\\s.*\\syes$`, 'm'));
      assert.match(r.stdout, new RegExp(`^${stale.product}\\s+${stale.tariff}\\s+stale\\s.*\\sno$`, 'm'));
      assert.match(r.stdout, new RegExp(`^${expired.product}\\s+${expired.tariff}\\s+expired\\s`, 'm'));
    });

    it('says when the lease has lapsed: not renewed for longer than the duration it declares', async () => {
      const e = await leaseKv.get(LEASE_KEY);
      assert.ok(e);
      const rev = await leaseKv.update(
        LEASE_KEY,
        JSON.stringify({ ...leaseValue, durationMs: 1_000 }),
        e.revision,
      );
      const written = (await leaseKv.get(LEASE_KEY))?.created;
      assert.equal((await leaseKv.get(LEASE_KEY))?.revision, rev);
      const report = await check(
        async () => {
          const r = JSON.parse((await runCli(['status', '--json', ...server])).stdout);
          return r.leader.lapsed ? r : null;
        },
        { name: 'the lease reported lapsed', timeout: 15_000 },
      );
      assert.equal(report.leader.renewedAt, written?.toISOString());
      assert.ok(Date.now() - Date.parse(report.leader.renewedAt) > 1_000);
      const r = await runCli(['status', ...server]);
      assert.match(
        r.stdout,
        /^leader:\s+fetcher-a \(since .*LAPSED: last renewed .* no fetcher renews it\)$/m,
      );
      assert.match(r.stdout, /^term:\s+4 \(highest in documents and checks\)/m);
      await leaseKv.update(LEASE_KEY, JSON.stringify(leaseValue), rev); // back to the live lease of the fixture
    });

    it('exits 1 with a clear message when NATS cannot be reached', async () => {
      const r = await runCli(['status', '--server', 'nats://127.0.0.1:1', '--timeout', '2s']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /cannot connect to nats:\/\/127\.0\.0\.1:1/);
    });
  });

  describe('get', () => {
    it('prints a summary with counts, slots, coverage and freshness', async () => {
      const r = await runCli(['get', fresh.product, fresh.tariff, ...server]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^tariff:\\s+${fresh.tariff}$`, 'm'));
      assert.match(r.stdout, /^unit rates:\s+8 rows$/m);
      assert.match(r.stdout, /^first slot:\s+2026-11-29T19:00:00Z$/m);
      assert.match(r.stdout, /^last slot:\s+2026-11-29T22:30:00Z → 2026-11-29T23:00:00Z$/m);
      assert.match(r.stdout, new RegExp(`^covers through:\\s+${freshDoc.coversThrough}$`, 'm'));
      assert.match(r.stdout, /^freshness:\s+fresh \(/m);
    });

    it('prints the exact document with --json', async () => {
      const r = await runCli(['get', fresh.product, fresh.tariff, '--json', ...server]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), freshDoc);
    });

    it('exits 1 for a tariff nobody has fetched', async () => {
      const other = tariffN(40);
      const r = await runCli(['get', other.product, other.tariff, ...server]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /no document for AGILE-T40 /);
    });

    it('rejects invalid codes with exit 2 and a clear message, without touching NATS', async () => {
      // Nothing listens on port 1: had the CLI tried to connect, it would exit 1 with a connect error.
      const r = await runCli(['get', 'agile-24', 'E-1R-AGILE-24-10-01-C', '--server', 'nats://127.0.0.1:1']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /invalid product code "agile-24"/);
      assert.match(r.stderr, /does not belong to product|upper-case/);
      assert.doesNotMatch(r.stderr, /cannot connect/);
      const mismatch = await runCli([
        'refresh',
        'AGILE-24-10-01',
        'E-1R-GO-22-B',
        '--server',
        'nats://127.0.0.1:1',
      ]);
      assert.equal(mismatch.code, 2);
      assert.match(mismatch.stderr, /does not belong to product AGILE-24-10-01/);
      const arity = await runCli(['get', 'AGILE-24-10-01']);
      assert.equal(arity.code, 2);
      assert.match(arity.stderr, /get expects <product> <tariff>/);
    });
  });

  describe('watch', () => {
    it('prints a line for a write made after it started, and exits 0 on SIGINT', async () => {
      const target = tariffN(5);
      const proc = await startCli(['watch', target.product, target.tariff, ...server]);
      try {
        await proc.waitForOutput(/press Ctrl-C to stop/);
        let seed = 50;
        const line = new RegExp(
          `^\\S+Z  ${target.product}\\.${target.tariff}  document  rev=(\\d+)  term=7  covers=2026-11-29T23:00:00Z  hash=sha256:[0-9a-f]{12}  fresh$`,
          'm',
        );
        // A write right after a watch starts is rarely missed by the v3 ordered consumer until the client's
        // next resync; writing again until a line appears keeps the test fast either way.
        await check(
          async () => {
            if (line.test(proc.output())) return true;
            // another tariff first: updates arrive in revision order, so it is seen before the target
            await putDoc(bus, makeDoc(stale.product, stale.tariff, { term: 2, seed: seed }));
            await putDoc(bus, makeDoc(target.product, target.tariff, { term: 7, seed: seed++ }));
            return false;
          },
          { interval: 1_000, timeout: 20_000, name: 'watch prints the update' },
        );
        proc.child.kill('SIGINT');
        const exit = await proc.exited;
        assert.deepEqual(exit, { code: 0, signal: null }, proc.output());
        assert.doesNotMatch(proc.output(), new RegExp(stale.tariff), 'the filter holds');
      } finally {
        await proc.stop();
      }
    });
  });

  describe('refresh', () => {
    let sub: Subscription | null = null;
    const requests: unknown[] = [];
    beforeEach(() => {
      requests.length = 0;
      // stand-in for the leading fetcher
      sub = nc.subscribe(SUBJECTS.allRefresh, {
        queue: responderQueue(1),
        callback: (_e, m) => {
          const req = decode(RefreshRequestSchema, 'RefreshRequest', m.data);
          requests.push(req.ok ? req.value : null);
          if (req.ok && req.value.tariff === fresh.tariff) {
            m.respond(JSON.stringify(freshDoc));
            return;
          }
          const h = headers();
          h.set(ERROR_CODE_HEADER, 'NOT_FOUND');
          h.set(ERROR_HEADER, 'tariff not found upstream');
          m.respond(undefined, { headers: h });
        },
      });
    });
    afterEach(async () => {
      await sub?.drain();
      sub = null;
    });

    it('sends a valid RefreshRequest (with --force) and prints the reply summary', async () => {
      const r = await runCli(['refresh', fresh.product, fresh.tariff, '--force', ...server]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^tariff:\\s+${fresh.tariff}$`, 'm'));
      assert.match(r.stdout, new RegExp(`^content hash:\\s+${freshDoc.contentHash}$`, 'm'));
      assert.equal(requests.length, 1);
      assert.deepEqual(
        { ...(requests[0] as object), by: 'x' },
        {
          type: 'refresh-request',
          schemaVersion: SCHEMA_VERSION,
          product: fresh.product,
          tariff: fresh.tariff,
          by: 'x',
          force: true,
        },
      );
      const json = await runCli(['refresh', fresh.product, fresh.tariff, '--json', ...server]);
      assert.deepEqual(JSON.parse(json.stdout), freshDoc);
      assert.equal((requests[1] as { force?: boolean }).force, undefined);
    });

    it('prints the typed NOT_FOUND error from the reply headers and exits 1', async () => {
      const missing = tariffN(41);
      const r = await runCli(['refresh', missing.product, missing.tariff, ...server]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /refresh failed: NOT_FOUND: tariff not found upstream/);
      const json = await runCli(['refresh', missing.product, missing.tariff, '--json', ...server]);
      assert.equal(json.code, 1);
      assert.deepEqual(JSON.parse(json.stdout), {
        error: { code: 'NOT_FOUND', message: 'tariff not found upstream' },
      });
    });

    it('says no fetcher is answering when nobody listens', async () => {
      await sub?.drain();
      sub = null;
      const r = await runCli(['refresh', fresh.product, fresh.tariff, ...server]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /no fetcher is answering on ratebus\.refresh\.AGILE-T1\.E-1R-AGILE-T1-B/);
      assert.equal(requests.length, 0);
    });
  });
});
