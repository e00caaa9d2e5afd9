import assert from 'node:assert/strict';
import {
  checkAttacks,
  checkNotLost,
  checkSingleFetcher,
  divergence,
  MonotonicTracker,
  type PublishedDoc,
  type StoredDoc,
  type TermWindow,
  type UpstreamRequest,
} from './invariants.js';

/** The chaos suite's checkers must catch what they claim to catch: each is fed a hand-made violation. */
describe('Chaos invariants (checkers)', () => {
  const T0 = Date.parse('2026-11-02T16:00:00Z');
  const windows: TermWindow[] = [
    { fetcher: 'a', term: 1, electedAt: T0, endAt: T0 + 10_000, endWhy: 'killed' },
    { fetcher: 'b', term: 7, electedAt: T0 + 15_000, endAt: T0 + 20_000, endWhy: 'paused' },
    { fetcher: 'c', term: 9, electedAt: T0 + 26_000, endAt: null, endWhy: 'open' },
  ];
  const req = (seq: number, fetcher: string | null, at: number): UpstreamRequest => ({
    seq,
    at: T0 + at,
    fetcher,
    caller: fetcher ? `ratebus fetcher/${fetcher}` : 'curl/8',
    path: '/v1/products/',
  });

  describe('single fetcher', () => {
    it('accepts requests that start inside their own term, up to the tolerance after its end', () => {
      const ok = [req(1, 'a', 0), req(2, 'a', 10_500), req(3, 'b', 15_001), req(4, 'c', 60_000)];
      assert.deepEqual(checkSingleFetcher(ok, windows, 1_000), []);
    });

    it('flags a request by a paused leader after it was stopped, by a non-leader and by a stranger', () => {
      const bad = [req(1, 'b', 21_500), req(2, 'c', 5_000), req(3, null, 1_000)];
      const v = checkSingleFetcher(bad, windows, 1_000);
      assert.deepEqual(
        v.map((x) => x.id),
        ['upstream#1', 'upstream#2', 'upstream#3'],
      );
      assert.ok(v.every((x) => x.invariant === 'single-fetcher'));
    });

    it('flags an old term still starting requests after a newer term began (overlapping windows)', () => {
      const overlapping: TermWindow[] = [
        { fetcher: 'a', term: 1, electedAt: T0, endAt: T0 + 30_000, endWhy: 'stepped-down' },
        { fetcher: 'b', term: 2, electedAt: T0 + 10_000, endAt: null, endWhy: 'open' },
      ];
      const v = checkSingleFetcher([req(1, 'a', 9_000), req(2, 'a', 12_000)], overlapping, 1_000);
      assert.deepEqual(
        v.map((x) => x.id),
        ['upstream#2'],
      );
    });
  });

  describe('monotonic', () => {
    it('accepts newer documents and confirmations, flags every kind of regression and removals', () => {
      const t = new MonotonicTracker();
      const doc = (term: number, revision: number, coversThrough: string | null) => ({
        kind: 'document' as const,
        term,
        revision,
        coversThrough,
      });
      assert.equal(t.observe('p', 'k', doc(3, 10, '2026-11-03T23:00:00Z')), null);
      assert.equal(
        t.observe('p', 'k', { ...doc(3, 10, '2026-11-03T23:00:00Z'), kind: 'confirmation' }),
        null,
      );
      assert.equal(t.observe('p', 'k', doc(4, 12, '2026-11-04T23:00:00Z')), null);
      assert.ok(t.observe('p', 'k', doc(3, 13, '2026-11-04T23:00:00Z')), 'older term');
      assert.ok(t.observe('p', 'k', doc(4, 12, '2026-11-04T23:00:00Z')), 'same revision as new content');
      assert.ok(t.observe('p', 'k', doc(4, 14, '2026-11-03T23:00:00Z')), 'coverage went back');
      assert.ok(t.observe('p', 'k', { ...doc(0, 15, null), kind: 'removed' }), 'removed');
      assert.equal(t.observe('q', 'k', doc(1, 1, null)), null, 'other pods are tracked separately');
      assert.equal(t.violations.length, 4);
      assert.equal(t.checks, 8);
    });

    it('lets a rebased update lower the revision, never the term or the coverage', () => {
      const t = new MonotonicTracker();
      const doc = (term: number, revision: number, coversThrough: string, rebased?: boolean) => ({
        kind: 'document' as const,
        term,
        revision,
        coversThrough,
        ...(rebased ? { rebased } : {}),
      });
      assert.equal(t.observe('p', 'k', doc(5, 167, '2026-11-04T23:00:00Z')), null);
      assert.ok(t.observe('p', 'k', doc(5, 161, '2026-11-04T23:00:00Z')), 'lower revision, not rebased');
      assert.equal(t.observe('p', 'k', doc(5, 150, '2026-11-04T23:00:00Z', true)), null, 'rebased');
      assert.ok(t.observe('p', 'k', doc(4, 140, '2026-11-04T23:00:00Z', true)), 'rebased to an older term');
      assert.ok(t.observe('p', 'k', doc(5, 130, '2026-11-03T23:00:00Z', true)), 'rebased to less coverage');
      assert.equal(t.rebased, 3);
      assert.equal(t.violations.length, 3);
    });
  });

  describe('not lost', () => {
    const pub = (key: string, revision: number, term: number, hash: string): PublishedDoc => ({
      fetcher: 'a',
      key,
      revision,
      term,
      hash,
      at: T0,
    });
    const stored = (...docs: StoredDoc[]) => new Map(docs.map((d) => [d.key, d]));

    it('accepts superseded documents and a final state equal to the last publish', () => {
      const r = checkNotLost(
        [pub('k', 3, 1, 'h1'), pub('k', 5, 2, 'h2')],
        stored({ key: 'k', revision: 5, term: 2, hash: 'h2' }),
        true,
      );
      assert.deepEqual(r.violations, []);
      assert.deepEqual(r.aheadOfPublished, []);
    });

    it('flags a lost key, a revision gone back, another hash and an older-term successor', () => {
      const published = [
        pub('gone', 1, 1, 'h'),
        pub('back', 5, 1, 'h'),
        pub('swap', 5, 1, 'h'),
        pub('old', 5, 4, 'h'),
      ];
      const r = checkNotLost(
        published,
        stored(
          { key: 'back', revision: 4, term: 1, hash: 'h' },
          { key: 'swap', revision: 5, term: 1, hash: 'x' },
          { key: 'old', revision: 9, term: 3, hash: 'y' },
        ),
        false,
      );
      assert.deepEqual(
        r.violations.map((v) => v.id),
        ['published gone@1', 'published back@5', 'published swap@5', 'published old@5'],
      );
    });

    it('lists (does not hide) a stored revision newer than every publish', () => {
      const r = checkNotLost(
        [pub('k', 3, 2, 'h')],
        stored({ key: 'k', revision: 4, term: 2, hash: 'z' }),
        true,
      );
      assert.deepEqual(r.violations, []);
      assert.deepEqual(r.aheadOfPublished, ['k']);
    });
  });

  describe('converged', () => {
    it('reports every pod copy that differs from the stored latest', () => {
      const s = new Map([['k', { key: 'k', revision: 5, term: 2, hash: 'h' }]]);
      assert.deepEqual(divergence([{ pod: 'p', key: 'k', revision: 5, hash: 'h' }], s), []);
      assert.equal(
        divergence(
          [
            { pod: 'p', key: 'k', revision: 4, hash: 'h' },
            { pod: 'q', key: 'k', revision: null, hash: null },
            { pod: 'p', key: 'other', revision: 1, hash: 'h' },
          ],
          s,
        ).length,
        3,
      );
    });
  });

  describe('hostile refused', () => {
    it('flags an attack answered otherwise than expected, not one the cluster could not answer', () => {
      const refused = 'refused-permission';
      assert.deepEqual(
        checkAttacks([
          { attack: 'forged-rates', expected: refused, outcome: refused },
          { attack: 'forged-rates', expected: refused, outcome: 'timeout' },
          { attack: 'interest-delete-other', expected: 'accepted', outcome: 'no-responders' },
          { attack: 'interest-delete-other', expected: 'accepted', outcome: 'accepted' },
        ]),
        [],
      );
      const vs = checkAttacks([
        { attack: 'forged-rates', expected: refused, outcome: 'accepted' },
        { attack: 'interest-rollup-all', expected: 'refused-10111', outcome: 'refused-10054' },
      ]);
      assert.deepEqual(
        vs.map((v) => [v.invariant, v.id]),
        [
          ['hostile-refused', 'attack forged-rates accepted'],
          ['hostile-refused', 'attack interest-rollup-all refused-10054'],
        ],
      );
    });
  });
});
