import type { NatsConnection } from '@nats-io/transport-node';
import { BUCKETS, CheckedSchema, DEFAULT_LEASE_DURATION_MS, decode, rateKey } from '@ratebus/schema';
import { type LeaseState, openConnection, openRates, readKeys, readLease } from '../bus.js';
import { fields, formatAge, table } from '../format.js';
import type { CommandContext } from './context.js';

/** One row of the status table. */
export interface TariffStatus {
  readonly product: string;
  readonly tariff: string;
  readonly freshness: string;
  readonly ageMs: number;
  readonly confirmedAt: string;
  readonly coversThrough: string | null;
  readonly term: number;
  readonly revision: number;
  /** Whether a pod's interest is live; null when this user may not read `ratebus-interest`. */
  readonly interest: boolean | null;
}

export interface StatusReport {
  readonly leader:
    | {
        readonly readable: true;
        readonly holder: string;
        readonly since: string;
        readonly leaseRevision: number;
        /** The leader's term as written in the lease (from its first renew on); null before that. */
        readonly term: number | null;
        /** Server time of the lease's last renew. */
        readonly renewedAt: string;
        /** The lease duration it declares (the default when it declares none). */
        readonly durationMs: number;
        /**
         * Not renewed for longer than its duration (by this host's clock): its fetcher is gone, and the lease
         * stays until another fetcher takes it over (the bucket has no TTL).
         */
        readonly lapsed: boolean;
      }
    | { readonly readable: true; readonly holder: null; readonly reason: string }
    | { readonly readable: false; readonly reason: string };
  /** Highest fencing term in the documents and checks; null when there are none. */
  readonly term: number | null;
  readonly tariffs: readonly TariffStatus[];
}

/** `ratebus status`: leader, term, and every tariff in `ratebus-rates` with its freshness. */
export async function status(ctx: CommandContext): Promise<number> {
  const nc = await openConnection(ctx.settings, { timeoutMs: ctx.timeoutMs, persistent: false });
  try {
    const report = await collect(nc, ctx);
    if (ctx.json) ctx.io.out(JSON.stringify(report, null, 2));
    else ctx.io.out(render(report, Date.now()));
    return 0;
  } finally {
    await nc.close();
  }
}

async function collect(nc: NatsConnection, ctx: CommandContext): Promise<StatusReport> {
  const client = await openRates(nc, ctx.settings.name, ctx.timeoutMs);
  try {
    // Freshness comes from the client itself, exactly as a pod computes it.
    const views = client
      .tariffs()
      .map((ref) => ({
        ref,
        key: rateKey(ref.product, ref.tariff),
        view: client.get(ref.product, ref.tariff),
      }))
      .sort((a, b) => a.key.localeCompare(b.key));
    const keys = views.map((v) => v.key);
    const [lease, checks, interest] = await Promise.all([
      readLease(nc, ctx.timeoutMs),
      readKeys(nc, BUCKETS.checks, keys, ctx.timeoutMs),
      readKeys(nc, BUCKETS.interest, keys, ctx.timeoutMs),
    ]);
    let term: number | null = null;
    const seeTerm = (t: number) => {
      term = Math.max(term ?? 0, t);
    };
    for (const entry of checks?.values() ?? []) {
      const c = decode(CheckedSchema, 'Checked', entry.value);
      if (c.ok) seeTerm(c.value.term);
    }
    const tariffs: TariffStatus[] = [];
    for (const { ref, key, view } of views) {
      if (!view) continue;
      seeTerm(view.document.term);
      tariffs.push({
        product: ref.product,
        tariff: ref.tariff,
        freshness: view.freshness,
        ageMs: view.ageMs,
        confirmedAt: view.confirmedAt.toISOString(),
        coversThrough: view.coversThrough,
        term: view.document.term,
        revision: view.revision,
        interest: interest === null ? null : interest.has(key),
      });
    }
    return { leader: leaderOf(lease, Date.now()), term, tariffs };
  } finally {
    await client.close();
  }
}

function leaderOf(l: LeaseState, now: number): StatusReport['leader'] {
  switch (l.kind) {
    case 'held': {
      const durationMs = l.lease.durationMs ?? DEFAULT_LEASE_DURATION_MS;
      return {
        readable: true,
        holder: l.lease.holder,
        since: l.lease.acquiredAt,
        leaseRevision: l.revision,
        term: l.lease.term ?? null,
        renewedAt: l.renewedAt.toISOString(),
        durationMs,
        lapsed: now - l.renewedAt.getTime() > durationMs,
      };
    }
    case 'none':
      return { readable: true, holder: null, reason: l.reason };
    case 'invalid':
      return {
        readable: true,
        holder: null,
        reason: `the lease value at revision ${l.revision} is not valid`,
      };
    case 'forbidden':
      return { readable: false, reason: 'no permission to read the lease' };
  }
}

/** The report for a person. */
export function render(r: StatusReport, now: number): string {
  const l = r.leader;
  const leader = !l.readable
    ? `unknown (${l.reason})`
    : l.holder === null
      ? `none (${l.reason})`
      : l.lapsed
        ? `${l.holder} (since ${l.since}; LAPSED: last renewed ${formatAge(now - Date.parse(l.renewedAt))} ago, ` +
          `lease ${formatAge(l.durationMs)}: no fetcher renews it)`
        : `${l.holder} (since ${l.since}, ${formatAge(now - Date.parse(l.since))} ago)`;
  let term =
    r.term === null ? 'unknown (no documents or checks yet)' : `${r.term} (highest in documents and checks)`;
  if (l.readable && l.holder !== null && l.term !== null && !l.lapsed) term = `${l.term} (from the lease)`;
  const head = fields([
    ['leader', leader],
    ['term', term],
    ['tariffs', String(r.tariffs.length)],
  ]);
  if (r.tariffs.length === 0) return head;
  const rows = r.tariffs.map((t) => [
    t.product,
    t.tariff,
    t.freshness,
    formatAge(t.ageMs),
    t.coversThrough ?? 'open-ended',
    String(t.term),
    String(t.revision),
    t.interest === null ? '?' : t.interest ? 'yes' : 'no',
  ]);
  const headers = ['PRODUCT', 'TARIFF', 'FRESHNESS', 'AGE', 'COVERS THROUGH', 'TERM', 'REV', 'INTEREST'];
  return `${head}\n\n${table(headers, rows)}`;
}
