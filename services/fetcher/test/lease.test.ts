import assert from 'node:assert/strict';
import { jetstream } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { decodeOrThrow, LEASE_KEY, LeaseValueSchema } from '@ratebus/schema';
import { check, NatsServer, TcpProxy } from '@ratebus/testkit';
import { pino } from 'pino';
import { BucketMismatchError, FetcherErrorCode, NotLeaderError } from '../src/errors.js';
import { type DeposedReason, LeaderElector } from '../src/lease/elector.js';
import type { Fence } from '../src/worker/types.js';

// Short timings that satisfy the schema's relations: deadline < duration, retry × 1.2 < deadline.
const DURATION = 3_000;
const DEADLINE = 2_000;
const RETRY = 300;

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

interface LeaseEvent {
  who: string;
  kind: 'elected' | 'deposed';
  term: number;
  at: number;
  reason?: DeposedReason;
}

interface Candidate {
  name: string;
  nc: NatsConnection;
  kv: KV;
  elector: LeaderElector;
  fences: Fence[];
  renewsOk: number[];
}

let bucketSeq = 0;

describe('Lease', function () {
  this.timeout(60_000);
  let ns: NatsServer;
  const conns: NatsConnection[] = [];
  const electors: LeaderElector[] = [];
  const proxies: TcpProxy[] = [];

  before(async () => {
    ns = await NatsServer.start();
  });
  afterEach(async () => {
    await Promise.all(electors.splice(0).map((e) => e.stop()));
    await Promise.all(proxies.splice(0).map((p) => p.close()));
    await Promise.all(conns.splice(0).map((c) => c.close().catch(() => undefined)));
  });
  after(async () => {
    await ns?.stop();
  });

  async function conn(url = ns.url): Promise<NatsConnection> {
    const nc = await connect({ servers: url, name: 'lease-test' });
    conns.push(nc);
    return nc;
  }

  async function bucket(nc: NatsConnection, name: string, ttl = DURATION): Promise<KV> {
    return new Kvm(jetstream(nc, { timeout: 1_000 })).create(name, { history: 1, ttl });
  }

  function newBucketName(): string {
    bucketSeq += 1;
    return `lease-test-${bucketSeq}`;
  }

  async function candidate(
    name: string,
    bucketName: string,
    events: LeaseEvent[],
    url?: string,
  ): Promise<Candidate> {
    const nc = await conn(url);
    const kv = await bucket(nc, bucketName);
    const c: Candidate = {
      name,
      nc,
      kv,
      fences: [],
      renewsOk: [],
      elector: undefined as unknown as LeaderElector,
    };
    c.elector = new LeaderElector({
      kv,
      holder: name,
      durationMs: DURATION,
      renewDeadlineMs: DEADLINE,
      retryPeriodMs: RETRY,
      logger: logger.child({ who: name }),
      onElected: (fence) => {
        c.fences.push(fence);
        events.push({ who: name, kind: 'elected', term: fence.term, at: performance.now() });
      },
      onDeposed: (reason, term) => {
        events.push({ who: name, kind: 'deposed', term, at: performance.now(), reason });
      },
      observer: {
        renew: (outcome) => {
          if (outcome === 'ok') c.renewsOk.push(performance.now());
        },
      },
    });
    electors.push(c.elector);
    return c;
  }

  /** Leadership intervals per term; asserts terms strictly increase and intervals never overlap. */
  function assertSerialLeadership(events: LeaseEvent[]): void {
    const intervals: { who: string; term: number; from: number; to: number }[] = [];
    for (const e of events) {
      if (e.kind === 'elected')
        intervals.push({ who: e.who, term: e.term, from: e.at, to: Number.POSITIVE_INFINITY });
      else {
        const open = intervals.find((i) => i.term === e.term && i.who === e.who);
        assert.ok(open, `deposed without elected: ${JSON.stringify(e)}`);
        open.to = e.at;
      }
    }
    for (let i = 1; i < intervals.length; i++) {
      const prev = intervals[i - 1]!;
      const cur = intervals[i]!;
      assert.ok(cur.term > prev.term, `terms must strictly increase: ${prev.term} then ${cur.term}`);
      assert.ok(cur.from >= prev.to, `term ${cur.term} (${cur.who}) began before term ${prev.term} ended`);
    }
  }

  const leaders = (cs: Candidate[]) => cs.filter((c) => c.elector.leading);

  it('elects exactly one leader among three over many renew periods, across handovers', async () => {
    const events: LeaseEvent[] = [];
    const name = newBucketName();
    const cs = [
      await candidate('a', name, events),
      await candidate('b', name, events),
      await candidate('c', name, events),
    ];
    let maxConcurrent = 0;
    const sampler = setInterval(() => {
      maxConcurrent = Math.max(maxConcurrent, leaders(cs).length);
    }, 20);
    try {
      await Promise.all(cs.map((c) => c.elector.start()));
      // First leader renews for many periods.
      const first = await check(() => leaders(cs)[0], { name: 'a first leader' });
      await check(() => first.renewsOk.length >= 8, { name: 'first leader renewed 8 times' });
      // Graceful handover, then a second leader renews for many periods.
      await first.elector.release();
      const rest = cs.filter((c) => c !== first);
      const second = await check(() => leaders(rest)[0], { name: 'a second leader' });
      await check(() => second.renewsOk.length >= 8, { name: 'second leader renewed 8 times' });
      // Losers never led meanwhile.
      assert.equal(leaders(cs).length, 1);
    } finally {
      clearInterval(sampler);
    }
    assert.equal(maxConcurrent, 1, 'never two leaders at once');
    assert.ok(events.filter((e) => e.kind === 'elected').length >= 2);
    assertSerialLeadership(events);
  });

  it('hands over within one retry period after a graceful release (not by TTL expiry)', async () => {
    const events: LeaseEvent[] = [];
    const name = newBucketName();
    const a = await candidate('a', name, events);
    await a.elector.start();
    await check(() => a.elector.leading, { name: 'a leads' });
    const b = await candidate('b', name, events);
    await b.elector.start();
    await check(() => b.renewsOk.length === 0 && a.renewsOk.length >= 2, {
      name: 'a renews while b campaigns',
    });

    const releasedAt = performance.now();
    await a.elector.release();
    const [fence] = await check(() => (b.fences.length > 0 ? b.fences : undefined), {
      name: 'b elected after release',
    });
    const handover = performance.now() - releasedAt;
    logger.info({ handover }, 'handover after release');
    // Expiry would take the full lease duration; a deleted key is taken at b's next create().
    assert.ok(
      handover < DURATION,
      `handover took ${handover} ms: the lease expired instead of being released`,
    );
    assert.ok(fence && fence.term > (a.fences[0]?.term ?? 0));
    assert.deepEqual(
      events.map((e) => `${e.who}:${e.kind}`),
      ['a:elected', 'a:deposed', 'b:elected'],
    );
    assert.equal(events[1]?.reason, 'stopped');
    assertSerialLeadership(events);
  });

  it('resign() ends the term, frees the key at once and keeps campaigning for a new term', async () => {
    const events: LeaseEvent[] = [];
    const name = newBucketName();
    const a = await candidate('a', name, events);
    await a.elector.start();
    const [first] = await check(() => (a.fences.length > 0 ? a.fences : undefined), { name: 'a elected' });
    assert.ok(first);
    const b = await candidate('b', name, events);
    await b.elector.start();
    await check(() => a.renewsOk.length >= 2, { name: 'a renews while b campaigns' });

    const resignedAt = performance.now();
    await a.elector.resign(first.term);
    assert.ok(first.signal.aborted, 'the resigned term is fenced off');
    assert.throws(() => first.assertLeading(), /resigned/);
    assert.equal(a.elector.state, 'candidate', 'still campaigning');
    // The key was deleted: a candidate takes it at its next create(), well before the TTL would free it.
    const winner = await check(() => [a, b].find((c) => c.fences.some((f) => f.term > first.term)), {
      name: 'a new term',
    });
    assert.ok(performance.now() - resignedAt < DURATION, 'taken before the TTL could expire the key');
    assert.ok(winner.fences.at(-1)!.term > first.term);
    assert.equal(events.find((e) => e.kind === 'deposed')?.reason, 'resigned');
    await a.elector.resign(first.term); // an old term: nothing happens
    assert.equal([a, b].filter((c) => c.elector.leading).length, 1);
    assertSerialLeadership(events);
  });

  it('steps down by its own deadline when renews fail, before the TTL could free the key', async () => {
    const events: LeaseEvent[] = [];
    const name = newBucketName();
    const proxy = await TcpProxy.start(ns.port);
    proxies.push(proxy);
    const a = await candidate('a', name, events, proxy.url);
    await a.elector.start();
    await check(() => a.elector.leading && a.renewsOk.length >= 2, { name: 'a leads and renews' });
    const b = await candidate('b', name, events);
    await b.elector.start();

    // The leader's link goes dead without a close: its renews time out.
    proxy.blackhole();
    const lastOk = a.renewsOk.at(-1) ?? 0;
    await check(() => events.find((e) => e.who === 'a' && e.kind === 'deposed'), {
      name: 'a deposed',
      timeout: 10_000,
    });
    const deposed = events.find((e) => e.who === 'a' && e.kind === 'deposed');
    assert.equal(deposed?.reason, 'deadline-passed');
    // The server cannot expire the key before lastOk + DURATION (lastOk is after the send it confirms).
    assert.ok(deposed && deposed.at < lastOk + DURATION, 'stepped down before the TTL could expire');
    assert.throws(() => a.fences[0]?.assertLeading(), NotLeaderError);

    await check(() => b.fences.length > 0, { name: 'b takes over after expiry', timeout: 10_000 });
    assertSerialLeadership(events);
  });

  it('keeps its term when an ambiguous renew turns out to be its own (same nonce)', async () => {
    const events: LeaseEvent[] = [];
    const name = newBucketName();
    const a = await candidate('a', name, events);
    await a.elector.start();
    const [fence] = await check(() => (a.fences.length > 0 ? a.fences : undefined), { name: 'a elected' });
    assert.ok(fence);
    const other = await bucket(await conn(), name);

    // Land a write of a's own value behind its back, as if a timed-out renew had been stored: a's next
    // renew uses a stale revision and meets "wrong last sequence".
    const landed = await check(
      async () => {
        const e = await other.get(LEASE_KEY);
        if (!e) return undefined;
        return other.update(LEASE_KEY, e.value, e.revision);
      },
      { name: 'a lost write of the same value' },
    );
    const renewsBefore = a.renewsOk.length;
    await check(() => a.renewsOk.length >= renewsBefore + 3, { name: 'a renews again after adopting' });
    const e = await other.get(LEASE_KEY);
    assert.ok(e && e.revision > landed, 'renews continue on the adopted revision');
    assert.equal(decodeOrThrow(LeaseValueSchema, 'LeaseValue', e.value).holder, 'a');
    assert.equal(a.elector.term, fence.term, 'same term');
    assert.doesNotThrow(() => fence.assertLeading());
    assert.deepEqual(
      events.map((x) => x.kind),
      ['elected'],
    );
  });

  it('steps down at once when a renew conflict shows another nonce', async () => {
    const events: LeaseEvent[] = [];
    const name = newBucketName();
    const a = await candidate('a', name, events);
    await a.elector.start();
    const [fence] = await check(() => (a.fences.length > 0 ? a.fences : undefined), { name: 'a elected' });
    assert.ok(fence);
    const other = await bucket(await conn(), name);
    await check(
      async () => {
        const e = await other.get(LEASE_KEY);
        if (!e) return undefined;
        const v = decodeOrThrow(LeaseValueSchema, 'LeaseValue', e.value);
        return other.update(
          LEASE_KEY,
          JSON.stringify({ ...v, holder: 'intruder', nonce: crypto.randomUUID() }),
          e.revision,
        );
      },
      { name: 'an intruder overwrote the lease' },
    );
    await check(() => fence.signal.aborted, { name: 'fence aborted' });
    assert.equal(events.at(-1)?.reason, 'lease-lost');
    assert.throws(
      () => fence.assertLeading(),
      (err: unknown) => err instanceof NotLeaderError && err.code === FetcherErrorCode.NotLeader,
    );
  });

  it('refuses to start on a lease bucket whose TTL is not the lease duration', async () => {
    const name = newBucketName();
    const nc = await conn();
    const kv = await bucket(nc, name, DURATION * 2);
    const elector = new LeaderElector({
      kv,
      holder: 'x',
      durationMs: DURATION,
      renewDeadlineMs: DEADLINE,
      retryPeriodMs: RETRY,
      logger,
      onElected: () => assert.fail('must not be elected'),
    });
    electors.push(elector);
    await assert.rejects(elector.start(), (e: unknown) => {
      assert.ok(e instanceof BucketMismatchError);
      assert.equal(e.code, FetcherErrorCode.BucketMismatch);
      assert.equal(e.expected, DURATION);
      assert.equal(e.actual, DURATION * 2);
      return true;
    });
    assert.equal(await kv.get(LEASE_KEY), null, 'never campaigned');
  });

  it('assertLeading() throws synchronously once the deadline passed, even if no timer could run', async () => {
    const events: LeaseEvent[] = [];
    const a = await candidate('a', newBucketName(), events);
    await a.elector.start();
    const [fence] = await check(() => (a.fences.length > 0 ? a.fences : undefined), { name: 'a elected' });
    assert.ok(fence);
    assert.doesNotThrow(() => fence.assertLeading());
    // An event-loop stall (GC pause, SIGSTOP) longer than the deadline: no renew, no timer can run.
    const until = performance.now() + DEADLINE + 100;
    while (performance.now() < until) {
      // busy wait on purpose
    }
    assert.throws(
      () => fence.assertLeading(),
      (e: unknown) => e instanceof NotLeaderError && e.reason === 'deadline-passed' && e.term === fence.term,
    );
    assert.ok(fence.signal.aborted, 'the failed check also aborts the term');
    assert.equal(events.at(-1)?.kind, 'deposed');
  });
});
