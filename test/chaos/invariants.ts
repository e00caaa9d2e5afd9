/**
 * The chaos suite's invariants as pure functions over recorded facts (simulator request log, fetcher log
 * lines, pod update events, published documents, final KV state), so they can be unit-tested with
 * hand-made violations and re-run at the end over everything that was recorded.
 */

/** The invariants of the chaos suite. */
export const INVARIANTS = [
  'single-fetcher',
  'monotonic',
  'converged',
  'not-lost',
  'hostile-refused',
] as const;
export type InvariantName = (typeof INVARIANTS)[number];

export interface Violation {
  invariant: InvariantName;
  /** Stable identity, so a violation found by a continuous check and again at the end counts once. */
  id: string;
  detail: string;
}

/** One upstream HTTP request as the simulator recorded it. */
export interface UpstreamRequest {
  seq: number;
  /** Real epoch ms when the request arrived at the simulator (≈ when the fetcher sent it). */
  at: number;
  /** Fetcher id, or the raw caller string when it belongs to no fetcher. */
  fetcher: string | null;
  caller: string;
  path: string;
}

/** One term as a fetcher process lived it: from its `leader elected` line to the first of its end events. */
export interface TermWindow {
  fetcher: string;
  term: number;
  /** Real epoch ms of the fetcher's `elected` log event (`leader elected term=N`). */
  electedAt: number;
  /**
   * Real epoch ms after which the process may no longer start work in this term: its `stepped down` line,
   * the moment it was SIGKILLed, or the moment it was SIGSTOPped (a frozen process acts on nothing, and once
   * resumed it must step down before doing anything). null while the term is open.
   */
  endAt: number | null;
  endWhy: 'stepped-down' | 'killed' | 'paused' | 'open';
}

/**
 * Invariant 1, "never two fetchers fetching in the same term window". Every upstream request must
 *  (a) START inside a leadership window of the fetcher that sent it: electedAt ≤ at ≤ endAt + tolerance, and
 *  (b) start no later than `tolerance` after any LATER term (of any fetcher) began.
 * A request already in flight when its term ends is aborted by the fetcher; it is judged by its start, which
 * is why only starts are constrained. `toleranceMs` absorbs the gap between a fetcher's send and the
 * in-process simulator stamping the arrival (event-loop lag on a loaded machine); it must stay well below the
 * lease's safety margin (lease duration − renew deadline), which separates an old term's last possible
 * request from a new term's first.
 */
export function checkSingleFetcher(
  requests: readonly UpstreamRequest[],
  windows: readonly TermWindow[],
  toleranceMs: number,
): Violation[] {
  const out: Violation[] = [];
  const byTerm = [...windows].sort((a, b) => a.term - b.term);
  for (const r of requests) {
    const id = `upstream#${r.seq}`;
    if (r.fetcher === null) {
      out.push({ invariant: 'single-fetcher', id, detail: `request ${r.path} from non-fetcher ${r.caller}` });
      continue;
    }
    const own = byTerm.find(
      (w) => w.fetcher === r.fetcher && w.electedAt <= r.at && r.at <= (w.endAt ?? Infinity) + toleranceMs,
    );
    if (!own) {
      out.push({
        invariant: 'single-fetcher',
        id,
        detail: `${r.fetcher} requested ${r.path} at ${iso(r.at)} outside its leadership windows (${describe(
          byTerm.filter((w) => w.fetcher === r.fetcher),
        )})`,
      });
      continue;
    }
    const later = byTerm.find((w) => w.term > own.term && r.at > w.electedAt + toleranceMs);
    if (later) {
      out.push({
        invariant: 'single-fetcher',
        id,
        detail: `${r.fetcher} (term ${own.term}) requested ${r.path} at ${iso(r.at)}, after ${later.fetcher} began term ${later.term} at ${iso(later.electedAt)}`,
      });
    }
  }
  return out;
}

/** What a pod applied, from `RateClient.on('update')`. */
export interface AppliedDoc {
  kind: 'document' | 'confirmation' | 'removed';
  term: number;
  revision: number;
  /** ISO end of coverage; null = open-ended (covers everything, ranks highest). */
  coversThrough: string | null;
  /**
   * The pod took a lower revision because the stream leader no longer had the one it held (the server lost
   * acknowledged writes): the revision may go down here, term and coverage still may not.
   */
  rebased?: boolean;
}

const coverage = (c: string | null): number => (c === null ? Infinity : Date.parse(c));

/**
 * Invariant 2, "no document ever goes backwards at any pod": per pod and tariff, the applied sequence of
 * (term, revision, coversThrough) never decreases — term and coverage are non-decreasing, the revision
 * strictly increases for new content and stays for confirmations — and a held document is never removed
 * (the rates bucket has no TTL and is never purged). One exception, counted in `rebased`: an update marked
 * `rebased` may lower the revision (the store itself went back; term and coverage are still checked).
 */
export class MonotonicTracker {
  readonly #last = new Map<string, AppliedDoc>();
  checks = 0;
  rebased = 0;
  readonly violations: Violation[] = [];

  observe(pod: string, key: string, doc: AppliedDoc): Violation | null {
    this.checks++;
    const k = `${pod}/${key}`;
    const prev = this.#last.get(k);
    let why: string | null = null;
    if (doc.kind === 'removed') why = 'a held document was removed';
    else if (prev) {
      // A rebased update may lower the revision (the store no longer had the held one), nothing else.
      if (doc.rebased) this.rebased++;
      const revisionRules = !doc.rebased;
      if (doc.term < prev.term) why = `term ${prev.term} → ${doc.term}`;
      else if (revisionRules && doc.kind === 'document' && doc.revision <= prev.revision)
        why = `revision ${prev.revision} → ${doc.revision} for new content`;
      else if (revisionRules && doc.revision < prev.revision)
        why = `revision ${prev.revision} → ${doc.revision}`;
      else if (coverage(doc.coversThrough) < coverage(prev.coversThrough))
        why = `coversThrough ${prev.coversThrough} → ${doc.coversThrough}`;
    }
    if (doc.kind !== 'removed') this.#last.set(k, doc);
    if (!why) return null;
    const v: Violation = { invariant: 'monotonic', id: `${k}#${this.checks}`, detail: `${k}: ${why}` };
    this.violations.push(v);
    return v;
  }
}

/** A document a fetcher published: its `published` log line, matched with the bytes an observer received. */
export interface PublishedDoc {
  fetcher: string;
  key: string;
  revision: number;
  term: number;
  hash: string;
  at: number;
}

/** A rates document as stored in KV (read through the stream leader). */
export interface StoredDoc {
  key: string;
  revision: number;
  term: number;
  hash: string;
  coversThrough?: string | null;
}

export interface NotLostResult {
  checks: number;
  violations: Violation[];
  /** Keys whose stored revision is newer than every published one (an ambiguous write, see README). */
  aheadOfPublished: string[];
}

/**
 * Invariant 4, "nothing the fetcher published is lost from KV": every published document is still the stored
 * one (same revision and hash) or was superseded by a later revision whose term is ≥ its own. With `final`
 * set, the stored document of each key must also BE the last published one (same revision and hash); a
 * stored revision newer than anything published (or a key never published) is tolerated only when its term is
 * ≥ the last published term — a KV write whose acknowledgement was lost (timeout during a node failover),
 * which the fetcher's CAS retry then adopted as its own and so never published — and it is listed.
 */
export function checkNotLost(
  published: readonly PublishedDoc[],
  stored: ReadonlyMap<string, StoredDoc>,
  final: boolean,
): NotLostResult {
  const out: NotLostResult = { checks: 0, violations: [], aheadOfPublished: [] };
  const lastByKey = new Map<string, PublishedDoc>();
  for (const p of published) {
    out.checks++;
    const prev = lastByKey.get(p.key);
    if (!prev || p.revision > prev.revision) lastByKey.set(p.key, p);
    const s = stored.get(p.key);
    const id = `published ${p.key}@${p.revision}`;
    const add = (why: string) => out.violations.push({ invariant: 'not-lost', id, detail: `${id}: ${why}` });
    if (!s) add('key missing from KV');
    else if (s.revision < p.revision) add(`KV went back to revision ${s.revision}`);
    else if (s.revision === p.revision && s.hash !== p.hash) add(`KV holds another hash ${s.hash}`);
    else if (s.revision > p.revision && s.term < p.term)
      add(`superseded by revision ${s.revision} of an older term ${s.term} < ${p.term}`);
  }
  if (final) {
    for (const [key, last] of lastByKey) {
      out.checks++;
      const s = stored.get(key);
      if (!s || s.revision < last.revision) continue; // already reported above
      if (s.revision > last.revision && s.term >= last.term) out.aheadOfPublished.push(key);
    }
    for (const key of stored.keys()) {
      out.checks++;
      // Same ambiguous-write case for a first `create`: stored, adopted, never published.
      if (!lastByKey.has(key)) out.aheadOfPublished.push(key);
    }
  }
  return out;
}

/** One pod's copy of one tariff, for the convergence check. */
export interface PodHolding {
  pod: string;
  key: string;
  revision: number | null;
  hash: string | null;
}

/** Invariant 3: the pods' copies that differ from the stored latest (empty = converged). */
export function divergence(
  holdings: readonly PodHolding[],
  stored: ReadonlyMap<string, StoredDoc>,
): string[] {
  const out: string[] = [];
  for (const h of holdings) {
    const s = stored.get(h.key);
    if (!s) out.push(`${h.pod}/${h.key}: not in KV`);
    else if (h.revision !== s.revision || h.hash !== s.hash)
      out.push(
        `${h.pod}/${h.key}: holds revision ${h.revision}, KV has ${s.revision} (${h.hash === s.hash ? 'same' : 'other'} content)`,
      );
  }
  return out;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function describe(ws: readonly TermWindow[]): string {
  if (ws.length === 0) return 'never elected';
  return ws
    .map(
      (w) =>
        `term ${w.term} ${iso(w.electedAt)}…${w.endAt === null ? 'open' : `${iso(w.endAt)} ${w.endWhy}`}`,
    )
    .join('; ');
}

/** One attempt of the hostile pod: the attack, the outcome it must get, the outcome it got. */
export interface AttackAttempt {
  attack: string;
  /** `accepted`, `refused-permission` or `refused-<JetStream API code>` (attacks.ts `expectedOutcome`). */
  expected: string;
  /** The same labels, or a transient failure (`timeout`, `no-responders`, `error-<name>`). */
  outcome: string;
}

/**
 * Invariant 5, "what the deployment refuses stays refused": every attempt the cluster answered must have the
 * answer the hostile-pod suite asserts in a quiet fleet (a forged write accepted, or refused differently,
 * is a violation). An attempt the cluster could not answer (a node down, a stream leader being elected) is no
 * answer and no violation; the attack comes again next round.
 */
export function checkAttacks(attempts: readonly AttackAttempt[]): Violation[] {
  const out: Violation[] = [];
  for (const a of attempts) {
    const answered = a.outcome === 'accepted' || a.outcome.startsWith('refused-');
    if (answered && a.outcome !== a.expected)
      out.push({
        invariant: 'hostile-refused',
        id: `attack ${a.attack} ${a.outcome}`,
        detail: `${a.attack}: ${a.outcome}, expected ${a.expected}`,
      });
  }
  return out;
}
