import assert from 'node:assert/strict';
import { jetstream } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import { connect, type NatsConnection, TimeoutError } from '@nats-io/transport-node';
import {
  type CampaignStep,
  type Fence,
  LeaseCandidate,
  type LeaseEndReason,
  LeaseLock,
  LeaseTerm,
  leaseNonce,
  lockCandidate,
} from '@ratebus/bus';
import { check, NatsServer } from '@ratebus/testkit';

/** The error a fence of these tests throws once its term ended. */
class Ended extends Error {
  constructor(
    readonly term: number,
    readonly reason: LeaseEndReason,
  ) {
    super(`term ${term} ended: ${reason}`);
    this.name = 'Ended';
  }
}

const DURATION = 1_500;
const DEADLINE = 1_000;

/** A lease value as the fetcher and the last resort write it: JSON with the claim's nonce and duration. */
const claimValue = (holder: string) => (nonce: string) =>
  JSON.stringify({ holder, nonce, durationMs: DURATION });

/**
 * The same bucket, except that the reply of every `create`/`update` whose key `lose` names is lost after the
 * server stored the write: the outcome a timed-out request leaves its sender with.
 */
function losingReplies(kv: KV, lose: { key: string | null }): KV {
  const lost = async (key: string, write: () => Promise<number>): Promise<number> => {
    const rev = await write();
    if (lose.key !== key) return rev;
    lose.key = null;
    throw new TimeoutError();
  };
  return Object.assign(Object.create(kv) as KV, {
    create: (k: string, v: string | Uint8Array) => lost(k, () => kv.create(k, v)),
    update: (k: string, v: string | Uint8Array, rev: number, timeout?: number) =>
      lost(k, () => kv.update(k, v, rev, timeout)),
  });
}

type Won = Extract<CampaignStep, { kind: 'won' }>;

/** `@ratebus/bus` lease core against a real nats-server: candidates, terms, locks and their guards. */
describe('@ratebus/bus lease', function () {
  this.timeout(60_000);
  let ns: NatsServer;
  let nc: NatsConnection;
  let kv: KV;
  let seq = 0;
  const cleanup: (() => Promise<unknown>)[] = [];

  before(async () => {
    ns = await NatsServer.start();
    nc = await connect({ servers: ns.url });
    kv = await new Kvm(jetstream(nc, { timeout: 1_000 })).create('bus-lease-test', { history: 1 });
  });
  afterEach(async () => {
    await Promise.all(cleanup.splice(0).map((f) => f()));
  });
  after(async () => Promise.all([nc?.close(), ns?.stop()]));

  const newKey = () => `k${++seq}`;

  function candidate(key: string, holder: string, bucket = kv): LeaseCandidate {
    return new LeaseCandidate({
      kv: bucket,
      key,
      claimValue: claimValue(holder),
      durationMs: () => DURATION,
      deadlineMs: DEADLINE,
    });
  }

  function term(key: string, won: Won, ends: LeaseEndReason[] = []): LeaseTerm {
    const t = new LeaseTerm(won, won.claim.value, {
      kv,
      key,
      deadlineMs: DEADLINE,
      requestTimeoutMs: 500,
      endError: (n, reason) => new Ended(n, reason),
      onEnd: (reason) => ends.push(reason),
    });
    cleanup.push(async () => t.end('stopped'));
    return t;
  }

  async function win(c: LeaseCandidate): Promise<Won> {
    return check(
      async () => {
        const step = await c.campaign();
        return step.kind === 'won' ? step : undefined;
      },
      { name: 'campaign won', timeout: 10_000 },
    );
  }

  function lock(c: LeaseCandidate, ends: LeaseEndReason[] = []): Promise<LeaseLock | null> {
    return LeaseLock.acquire(c, {
      durationMs: DURATION,
      requestTimeoutMs: 500,
      endError: (n, reason) => new Ended(n, reason),
      onEnd: (reason) => ends.push(reason),
    }).then((l) => {
      if (l) cleanup.push(() => l.release({ keep: true }));
      return l;
    });
  }

  /** Lands a write of the holder's own value behind its back, as if a renew whose reply was lost had landed. */
  async function landOwnWrite(key: string): Promise<number> {
    const e = await kv.get(key);
    assert.ok(e?.operation === 'PUT');
    return kv.update(key, e.value, e.revision);
  }

  describe('LeaseCandidate', () => {
    it('creates a free key; the winning revision is the term and the value carries the nonce', async () => {
      const key = newKey();
      const won = await win(candidate(key, 'a'));
      assert.equal(won.how, 'created');
      const stored = await kv.get(key);
      assert.equal(stored?.revision, won.rev);
      assert.equal(leaseNonce(stored), won.claim.nonce);
      assert.equal((await candidate(key, 'b').campaign()).kind, 'waiting', 'a held key is not free');
    });

    it('takes a key over only once it saw the same revision unchanged for a whole duration', async () => {
      const key = newKey();
      const first = await win(candidate(key, 'a'));
      const b = candidate(key, 'b');
      const firstLook = performance.now();
      const won = await win(b);
      assert.equal(won.how, 'taken-over');
      assert.equal(won.previous, first.rev);
      assert.ok(won.rev > first.rev, 'the take-over revision is the new term');
      assert.ok(performance.now() - firstLook >= DURATION, 'not before a whole duration');
    });

    it('adopts its own create whose reply was lost, instead of waiting a whole duration for it', async () => {
      const key = newKey();
      const lose = { key: key as string | null };
      const c = candidate(key, 'a', losingReplies(kv, lose));
      const failed = await c.campaign();
      assert.equal(failed.kind, 'write-failed', 'the reply was lost');
      const landed = await kv.get(key);
      assert.ok(landed?.operation === 'PUT', 'yet the write was stored');
      const adopted = await c.campaign();
      assert.ok(adopted.kind === 'won', `adopted at the next step, got ${adopted.kind}`);
      assert.equal(adopted.how, 'adopted');
      assert.equal(adopted.rev, landed.revision);
      assert.equal(leaseNonce(landed), adopted.claim.nonce);
    });
  });

  describe('LeaseTerm', () => {
    it('keeps its term when a renew meets its own ambiguous write, and ends at once on another nonce', async () => {
      const key = newKey();
      const ends: LeaseEndReason[] = [];
      const t = term(key, await win(candidate(key, 'a')), ends);
      assert.equal((await t.renew()).kind, 'ok');
      await landOwnWrite(key);
      const adopted = await t.renew();
      assert.ok(adopted.kind === 'conflict' && adopted.resolved === 'adopted', JSON.stringify(adopted));
      assert.equal((await t.renew()).kind, 'ok', 'renews go on from the adopted revision');
      assert.doesNotThrow(() => t.fence.assertLeading());

      const e = await kv.get(key);
      assert.ok(e);
      await kv.update(key, claimValue('intruder')('another-nonce'), e.revision);
      const lost = await t.renew();
      assert.ok(lost.kind === 'conflict' && lost.resolved === 'lost', JSON.stringify(lost));
      assert.deepEqual(ends, ['lease-lost']);
      assert.throws(
        () => t.fence.assertLeading(),
        (x: unknown) => x instanceof Ended && x.reason === 'lease-lost' && x.term === t.term,
      );
      assert.deepEqual(await t.release(), { kind: 'not-held' }, 'never deletes another holder’s write');
      assert.equal(leaseNonce(await kv.get(key)), 'another-nonce');
    });

    it('fences itself by its deadline, even when no timer could run', async () => {
      const key = newKey();
      const ends: LeaseEndReason[] = [];
      const t = term(key, await win(candidate(key, 'a')), ends);
      assert.doesNotThrow(() => t.fence.assertLeading());
      const until = performance.now() + DEADLINE + 50;
      while (performance.now() < until) {
        // an event-loop stall longer than the deadline, on purpose
      }
      assert.throws(
        () => t.fence.assertLeading(),
        (x: unknown) => x instanceof Ended && x.reason === 'deadline-passed',
      );
      assert.ok(t.fence.signal.aborted);
      assert.deepEqual(ends, ['deadline-passed']);
    });

    it('release deletes its last write, so the next create wins at once', async () => {
      const key = newKey();
      const t = term(key, await win(candidate(key, 'a')));
      await t.renew();
      assert.deepEqual(await t.release(), { kind: 'released' });
      const next = await candidate(key, 'b').campaign();
      assert.ok(next.kind === 'won' && next.how === 'created' && next.rev > t.term);
    });
  });

  describe('LeaseLock (the last resort’s lock)', () => {
    it('keeps the lock when a renew meets its own write whose reply was lost', async () => {
      // Before the lock shared the lease core, any refused renew lost the lock.
      const key = newKey();
      const ends: LeaseEndReason[] = [];
      const held = await lock(lockCandidate(kv, key, DURATION, claimValue('pod-a')), ends);
      assert.ok(held);
      const fence: Fence = held.fence;
      const landed = await landOwnWrite(key);
      // Renews every third of the duration: wait for two after the conflict.
      await check(
        async () => {
          const e = await kv.get(key);
          return e && e.revision > landed + 1 ? e : undefined;
        },
        { name: 'the lock renews on', timeout: 5_000 },
      );
      assert.equal(fence.signal.aborted, false, 'still held');
      assert.doesNotThrow(() => fence.assertLeading());
      assert.deepEqual(ends, []);
      await held.release();
      assert.equal((await kv.get(key))?.operation, 'DEL', 'released');
    });

    it('takes a lock whose create lost its reply at the next attempt', async () => {
      // Before, the pod saw its own write as someone else's lock and waited a whole duration.
      const key = newKey();
      const lose = { key: key as string | null };
      const c = lockCandidate(losingReplies(kv, lose), key, DURATION, claimValue('pod-a'));
      await assert.rejects(lock(c), TimeoutError);
      const landed = await kv.get(key);
      assert.ok(landed?.operation === 'PUT');
      const held = await lock(c);
      assert.ok(held, 'adopted at once');
      assert.equal(held.term, landed.revision);
      assert.doesNotThrow(() => held.fence.assertLeading());
    });

    it('is lost at once when another holder’s write replaced it; the fence throws the given error', async () => {
      const key = newKey();
      const ends: LeaseEndReason[] = [];
      const held = await lock(lockCandidate(kv, key, DURATION, claimValue('pod-a')), ends);
      assert.ok(held);
      const e = await kv.get(key);
      assert.ok(e);
      await kv.update(key, claimValue('pod-b')('another-nonce'), e.revision);
      await check(() => held.fence.signal.aborted, { name: 'lock lost', timeout: 5_000 });
      assert.deepEqual(ends, ['lease-lost']);
      assert.throws(() => held.fence.assertLeading(), Ended);
      await held.release();
      assert.equal(leaseNonce(await kv.get(key)), 'another-nonce', 'the other holder’s write stays');
    });

    it('a key left unrenewed is taken over after its declared duration, never while renewed', async () => {
      const key = newKey();
      const a = await lock(lockCandidate(kv, key, DURATION, claimValue('pod-a')));
      assert.ok(a);
      const b = lockCandidate(kv, key, DURATION, claimValue('pod-b'));
      const until = performance.now() + 2 * DURATION;
      while (performance.now() < until) {
        assert.equal(await lock(b), null, 'a renewed lock is never taken over');
        await new Promise((r) => setTimeout(r, 100));
      }
      await a.release({ keep: true }); // its holder stops renewing, the key stays
      const stoppedAt = performance.now();
      const taken = await check(() => lock(b), { name: 'taken over', timeout: 10_000 });
      assert.ok(performance.now() - stoppedAt >= DURATION * (2 / 3), 'not before the holder’s deadline');
      assert.ok(taken.term > a.term);
    });
  });
});
