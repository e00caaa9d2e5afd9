import assert from 'node:assert/strict';
import { jetstream } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { decodeOrThrow, LEASE_KEY, LeaseValueSchema } from '@ratebus/schema';
import { check, NatsServer, TcpProxy } from '@ratebus/testkit';
import { pino } from 'pino';
import { BucketMismatchError, FetcherErrorCode, NotLeaderError } from '../src/errors.js';
import type { Fence } from '../src/leader/types.js';
import { type DeposedReason, LeaderElector } from '../src/lease/elector.js';

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
  /** Send times of the successful renews. */
  renewsSent: number[];
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

  /** A lease bucket as the fetcher makes it (no TTL), or with `ttl` as an earlier version made it. */
  async function bucket(nc: NatsConnection, name: string, ttl = 0): Promise<KV> {
    return new Kvm(jetstream(nc, { timeout: 1_000 })).create(name, {
      history: 1,
      ...(ttl > 0 ? { ttl } : {}),
    });
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
      renewsSent: [],
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
        renew: (outcome, seconds) => {
          if (outcome !== 'ok') return;
          c.renewsOk.push(performance.now());
          c.renewsSent.push(performance.now() - seconds * 1_000);
        },
      },
    });
    electors.push(c.elector);
    return c;
  }

  /** Starts candidate `who` alone and waits until it is elected; returns it with its first fence. */
  async function elected(who: string, name: string, events: LeaseEvent[]): Promise<[Candidate, Fence]> {
    const c = await candidate(who, name, events);
    await c.elector.start();
    const [fence] = await check(() => (c.fences.length > 0 ? c.fences : undefined), {
      name: `${who} elected`,
    });
    assert.ok(fence);
    return [c, fence];
  }

  /** `a` elected, then `b` campaigning while `a` renews `renews` times. */
  async function leaderAndCandidate(
    name: string,
    events: LeaseEvent[],
    renews = 2,
  ): Promise<{ a: Candidate; first: Fence; b: Candidate }> {
    const [a, first] = await elected('a', name, events);
    const b = await candidate('b', name, events);
    await b.elector.start();
    await check(() => a.renewsOk.length >= renews, { name: 'a renews while b campaigns' });
    return { a, first, b };
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

  it('hands over within one retry period after a graceful release (not by the lease lapsing)', async () => {
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
    // A lapse would take the full lease duration; a deleted key is taken at b's next create().
    assert.ok(
      handover < DURATION,
      `handover took ${handover} ms: the lease lapsed instead of being released`,
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
    const { a, first, b } = await leaderAndCandidate(name, events);

    const resignedAt = performance.now();
    await a.elector.resign(first.term);
    assert.ok(first.signal.aborted, 'the resigned term is fenced off');
    assert.throws(() => first.assertLeading(), /resigned/);
    assert.equal(a.elector.state, 'candidate', 'still campaigning');
    // The key was deleted: a candidate takes it at its next create(), well before the lease could lapse.
    const winner = await check(() => [a, b].find((c) => c.fences.some((f) => f.term > first.term)), {
      name: 'a new term',
    });
    assert.ok(performance.now() - resignedAt < DURATION, 'taken before the lease could lapse');
    assert.ok(winner.fences.at(-1)!.term > first.term);
    assert.equal(events.find((e) => e.kind === 'deposed')?.reason, 'resigned');
    await a.elector.resign(first.term); // an old term: nothing happens
    assert.equal([a, b].filter((c) => c.elector.leading).length, 1);
    assertSerialLeadership(events);
  });

  it('steps down by its own deadline when renews fail, before anyone could take the key over', async () => {
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
    const lastOk = a.renewsSent.at(-1) ?? 0;
    await check(() => events.find((e) => e.who === 'a' && e.kind === 'deposed'), {
      name: 'a deposed',
      timeout: 10_000,
    });
    const deposed = events.find((e) => e.who === 'a' && e.kind === 'deposed');
    assert.equal(deposed?.reason, 'deadline-passed');
    // Nobody can take the key over before lastOk + DURATION (its last revision was stored after that send).
    assert.ok(deposed && deposed.at < lastOk + DURATION, 'stepped down before the lease could lapse');
    assert.throws(() => a.fences[0]?.assertLeading(), NotLeaderError);

    await check(() => b.fences.length > 0, { name: 'b takes over once it lapsed', timeout: 10_000 });
    const bElected = events.find((e) => e.who === 'b' && e.kind === 'elected');
    assert.ok(bElected && bElected.at >= lastOk + DURATION, 'b waited a whole lease after the last renew');
    assertSerialLeadership(events);
  });

  it('keeps its term when an ambiguous renew turns out to be its own (same nonce)', async () => {
    const events: LeaseEvent[] = [];
    const name = newBucketName();
    const [a, fence] = await elected('a', name, events);
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
    const [, fence] = await elected('a', name, events);
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

  it('takes over a key left behind by a dead leader after seeing it unchanged for a whole lease', async () => {
    const events: LeaseEvent[] = [];
    const name = newBucketName();
    const { a, b } = await leaderAndCandidate(name, events, 4);
    assert.equal(b.fences.length, 0, 'b never took a lease that was being renewed');

    // a dies without releasing: its last revision stays (the bucket has no TTL).
    await a.elector.stop();
    const lastSent = a.renewsSent.at(-1) ?? 0;
    const left = await a.kv.get(LEASE_KEY);
    assert.equal(left?.operation, 'PUT');
    const [fence] = await check(() => (b.fences.length > 0 ? b.fences : undefined), {
      name: 'b takes over',
      timeout: 3 * DURATION,
    });
    assert.ok(fence);
    const bElected = events.find((e) => e.who === 'b' && e.kind === 'elected');
    assert.ok(
      bElected && bElected.at >= lastSent + DURATION,
      'not before a whole lease after the last renew',
    );
    assert.ok(left && fence.term > left.revision, 'the take-over revision is the new term');
    const now = await b.kv.get(LEASE_KEY);
    const v = decodeOrThrow(LeaseValueSchema, 'LeaseValue', now?.value ?? new Uint8Array());
    assert.equal(v.holder, 'b');
    assert.equal(v.durationMs, DURATION, 'the value declares the lease duration');
    assertSerialLeadership(events);
  });

  it('starts on a bucket without TTL or (made earlier) with TTL = lease; refuses any other TTL', async () => {
    const nc = await conn();
    const start = async (kv: KV) => {
      const elector = new LeaderElector({
        kv,
        holder: 'x',
        durationMs: DURATION,
        renewDeadlineMs: DEADLINE,
        retryPeriodMs: RETRY,
        logger,
        onElected: () => undefined,
      });
      electors.push(elector);
      await elector.start();
      return elector;
    };
    for (const ttl of [0, DURATION]) {
      const kv = await bucket(nc, newBucketName(), ttl);
      const elector = await start(kv);
      await check(() => elector.leading, { name: `elected on a bucket with TTL ${ttl}` });
    }
    const kv = await bucket(nc, newBucketName(), DURATION * 2);
    await assert.rejects(start(kv), (e: unknown) => {
      assert.ok(e instanceof BucketMismatchError);
      assert.equal(e.code, FetcherErrorCode.BucketMismatch);
      assert.equal(e.expected, 0);
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
