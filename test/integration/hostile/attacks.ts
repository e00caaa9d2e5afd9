import { AckPolicy, JetStreamApiError, jetstream, jetstreamManager, StorageType } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import {
  type NatsConnection,
  NoRespondersError,
  PermissionViolationError,
  TimeoutError,
} from '@nats-io/transport-node';
import { isViolation, refreshBody } from '@ratebus/fixtures';
import {
  BUCKETS,
  type BucketRole,
  ERROR_CODE_HEADER,
  LEASE_KEY,
  rateKey,
  refreshSubject,
  SCHEMA_VERSION,
  type TariffRef,
  tariffRef,
} from '@ratebus/schema';
import { isJsCode, JS_CODES, rollup } from '../nats-security/roles.js';

/**
 * The hostile pod's attacks, each once, shared by the hostile-pod suite (which asserts each refusal in a
 * quiet fleet) and the chaos suite (which repeats them among failures and counts their outcomes). An attack
 * runs on a connection with the ordinary `pod` credentials; `expect` says how the deployment answers it.
 */

/** How the deployment answers an attack: a permission violation, a JetStream API error code, or accepted. */
export type Expected =
  | { kind: 'violation'; subject: string | RegExp }
  | { kind: 'js'; code: number }
  | { kind: 'accepted'; why: string };

/** What an attack aims at: the attacker's connection, a key honest pods hold by interest, a configured key. */
export interface AttackTarget {
  nc: NatsConnection;
  /** An interest-only tariff honest pods declared (its entry in `ratebus-interest`). */
  interestKey: string;
  /** A tariff whose document the fetchers store and publish. */
  heldKey: string;
}

export interface Attack {
  name: string;
  expect: Expected;
  run(t: AttackTarget): Promise<unknown>;
}

/** A bucket bound through `nc` (bind only: no request, so any role can hold a handle). */
export function bucketOf(nc: NatsConnection, role: BucketRole): Promise<KV> {
  return new Kvm(jetstream(nc, { timeout: 2_000 })).open(BUCKETS[role]);
}

const FORGED = '{"forged":true}';
const interestStream = `KV_${BUCKETS.interest}`;

export const ATTACKS = {
  /** One publish with `Nats-Rollup: all` would erase every pod's interest. */
  interestRollupAll: {
    name: 'interest-rollup-all',
    expect: { kind: 'js', code: JS_CODES.rollupNotPermitted },
    run: (t) => rollup(t.nc, `$KV.${BUCKETS.interest}.HOSTILE.WIPE`, 'all'),
  },
  /** A KV purge of one key is a `Nats-Rollup: sub` publish. */
  interestPurgeKey: {
    name: 'interest-purge-key',
    expect: { kind: 'js', code: JS_CODES.rollupNotPermitted },
    run: async (t) => (await bucketOf(t.nc, 'interest')).purge(t.interestKey),
  },
  interestPurgeBucket: {
    name: 'interest-purge-bucket',
    expect: { kind: 'violation', subject: `$JS.API.STREAM.PURGE.${interestStream}` },
    run: async (t) => (await jetstreamManager(t.nc)).streams.purge(interestStream),
  },
  /** Pods share one user: NATS cannot tell one pod's entry from another's. Bounded by honest renewals. */
  interestDeleteOther: {
    name: 'interest-delete-other',
    expect: {
      kind: 'accepted',
      why: 'pods share one user; an honest pod declares it again at its next check',
    },
    run: async (t) => (await bucketOf(t.nc, 'interest')).delete(t.interestKey),
  },
  /** An entry the fetcher ignores as invalid: bounded the same way (an honest pod rewrites an invalid entry). */
  interestOverwriteOther: {
    name: 'interest-overwrite-other',
    expect: {
      kind: 'accepted',
      why: 'pods share one user; an honest pod rewrites an invalid entry at its next check',
    },
    run: async (t) => (await bucketOf(t.nc, 'interest')).put(t.interestKey, FORGED),
  },
  interestOversized: {
    name: 'interest-oversized',
    expect: { kind: 'js', code: JS_CODES.messageTooLarge },
    run: async (t) => (await bucketOf(t.nc, 'interest')).put('HOSTILE.BIG', 'x'.repeat(2_048)),
  },
  forgedRates: {
    name: 'forged-rates',
    expect: { kind: 'violation', subject: /^\$KV\.ratebus-rates\./ },
    run: async (t) => (await bucketOf(t.nc, 'rates')).put(t.heldKey, FORGED),
  },
  forgedChecks: {
    name: 'forged-checks',
    expect: { kind: 'violation', subject: /^\$KV\.ratebus-checks\./ },
    run: async (t) => (await bucketOf(t.nc, 'checks')).put(t.heldKey, FORGED),
  },
  forgedLease: {
    name: 'forged-lease',
    expect: { kind: 'violation', subject: `$KV.${BUCKETS.lease}.${LEASE_KEY}` },
    run: async (t) => (await bucketOf(t.nc, 'lease')).put(LEASE_KEY, FORGED),
  },
  forgedLastResortLock: {
    name: 'forged-lastresort-lock',
    // refused at the write, or at the read that kv.create does after a failed write
    expect: {
      kind: 'violation',
      subject: new RegExp(
        `^\\$(KV\\.${BUCKETS.lease}\\.lastresort\\.|JS\\.API\\.STREAM\\.MSG\\.GET\\.KV_${BUCKETS.lease}$)`,
      ),
    },
    run: async (t) => (await bucketOf(t.nc, 'lease')).create(`lastresort.${t.heldKey}`, 'lock'),
  },
  streamCreate: {
    name: 'stream-create',
    expect: { kind: 'violation', subject: '$JS.API.STREAM.CREATE.HOSTILE' },
    run: async (t) =>
      (await jetstreamManager(t.nc)).streams.add({
        name: 'HOSTILE',
        subjects: ['hostile.>'],
        storage: StorageType.File,
      }),
  },
  /** Pods may create consumers on rates and checks (their watches); the lease's are not theirs to read. */
  consumerCreateLease: {
    name: 'consumer-create-lease',
    expect: {
      kind: 'violation',
      subject: new RegExp(`^\\$JS\\.API\\.CONSUMER\\.CREATE\\.KV_${BUCKETS.lease}`),
    },
    run: async (t) =>
      (await jetstreamManager(t.nc)).consumers.add(`KV_${BUCKETS.lease}`, {
        name: 'hostile',
        ack_policy: AckPolicy.None,
        inactive_threshold: 5_000_000_000,
      }),
  },
} satisfies Record<string, Attack>;

/** The single-shot attacks, in the order the chaos suite's hostile pod runs them each round. */
export const ALL_ATTACKS: readonly Attack[] = Object.values(ATTACKS);

/** For `assert.rejects`: the refusal `attack` expects; anything else (another refusal, a timeout) fails. */
export function refusedAs(attack: Attack): (e: unknown) => boolean {
  const x = attack.expect;
  if (x.kind === 'violation') return isViolation(x.subject);
  if (x.kind === 'js') return isJsCode(x.code);
  throw new Error(`${attack.name} is accepted (${x.why}), not refused`);
}

/**
 * The outcome of one attempt, as a short label for counts: `accepted`, `refused-permission`,
 * `refused-<JetStream API code>`, or a transient failure (`timeout`, `no-responders`, `error-<name>`) when the
 * cluster could not answer (a node down, a leader election).
 */
export function outcomeOf(e: unknown): string {
  for (let cur: unknown = e; cur instanceof Error; cur = cur.cause) {
    if (cur instanceof PermissionViolationError) return 'refused-permission';
    if (cur instanceof JetStreamApiError) return `refused-${cur.code}`;
    if (cur instanceof TimeoutError) return 'timeout';
    if (cur instanceof NoRespondersError) return 'no-responders';
  }
  return `error-${e instanceof Error ? e.name : typeof e}`;
}

/** The label an attempt of `attack` gets when the deployment answers as expected. */
export function expectedOutcome(attack: Attack): string {
  const x = attack.expect;
  return x.kind === 'accepted'
    ? 'accepted'
    : x.kind === 'violation'
      ? 'refused-permission'
      : `refused-${x.code}`;
}

/** Runs one attempt; never rejects. */
export async function attempt(attack: Attack, t: AttackTarget): Promise<string> {
  return attack.run(t).then(
    () => 'accepted',
    (e: unknown) => outcomeOf(e),
  );
}

/** The `n`-th valid-format tariff no product upstream has: `HOSTILE-n`, region C. */
export function floodTariff(n: number): TariffRef {
  return tariffRef(`HOSTILE-${n}`, `E-1R-HOSTILE-${n}-C`);
}

/**
 * Interest flood: a valid interest entry for each of `refs` (the fetcher tracks each one). Accepted up to the
 * bucket's key limit; returns each write's outcome.
 */
export async function floodInterest(nc: NatsConnection, refs: readonly TariffRef[]): Promise<string[]> {
  const interest = await bucketOf(nc, 'interest');
  const out: string[] = [];
  for (const ref of refs) {
    const body = JSON.stringify({
      type: 'interest',
      schemaVersion: SCHEMA_VERSION,
      product: ref.product,
      tariff: ref.tariff,
      renewedAt: new Date().toISOString(),
      by: 'hostile-pod',
    });
    out.push(
      await interest.put(rateKey(ref.product, ref.tariff), body).then(
        () => 'accepted',
        (e: unknown) => outcomeOf(e),
      ),
    );
  }
  return out;
}

/**
 * Forced refreshes, every request at once (`force: true`; one is what an honest pod may ask, many a flood). Each outcome is `answered`, the fetcher's error
 * code (`Ratebus-Error-Code`, e.g. a budget refusal or NOT_FOUND) or a transport failure.
 */
export function floodRefresh(
  nc: NatsConnection,
  refs: readonly TariffRef[],
  by = 'hostile-pod',
  timeoutMs = 5_000,
): Promise<string[]> {
  return Promise.all(
    refs.map((ref) => {
      const body = refreshBody(ref, by, true);
      return nc.request(refreshSubject(ref.product, ref.tariff), body, { timeout: timeoutMs }).then(
        (m) => m.headers?.get(ERROR_CODE_HEADER) || 'answered',
        (e: unknown) => outcomeOf(e),
      );
    }),
  );
}
