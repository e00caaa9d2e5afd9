import assert from 'node:assert/strict';
import {
  AbortedError,
  InvalidResponseError,
  OctopusErrorCode,
  RequestBudget,
  UpstreamHttpError,
  UpstreamNetworkError,
  UpstreamNotFoundError,
  UpstreamThrottledError,
  UpstreamTimeoutError,
} from '../src/index.js';
import { SILENT } from '../src/log.js';
import { withRetries } from '../src/retry.js';

const policy = (maxAttempts = 4, budget = new RequestBudget(1000)) => ({
  maxAttempts,
  backoff: { baseMs: 1, maxMs: 50 },
  budget,
  log: SILENT,
});

/** An attempt function that throws the given errors in turn, then returns 'ok'. */
function failing(...errors: Error[]) {
  const calls: number[] = [];
  return {
    calls,
    fn: async (n: number) => {
      calls.push(n);
      const e = errors[n - 1];
      if (e) throw e;
      return 'ok';
    },
  };
}

describe('withRetries', () => {
  const transient: Array<[string, () => Error]> = [
    ['a timeout', () => new UpstreamTimeoutError('t')],
    ['a reset', () => new UpstreamNetworkError('n')],
    ['an invalid body', () => new InvalidResponseError('i')],
    ['a 500', () => new UpstreamHttpError(500, 'x')],
    ['a 502', () => new UpstreamHttpError(502, 'x')],
    ['a 429 without Retry-After', () => new UpstreamThrottledError('x')],
  ];
  for (const [name, make] of transient) {
    it(`retries after ${name} and returns the later success`, async () => {
      const f = failing(make(), make());
      assert.equal(await withRetries(policy(), 'x', undefined, f.fn), 'ok');
      assert.deepEqual(f.calls, [1, 2, 3]);
    });
  }

  it('gives up after maxAttempts with the last typed error', async () => {
    const f = failing(...Array.from({ length: 5 }, () => new UpstreamHttpError(503, 'x')));
    await assert.rejects(
      withRetries(policy(3), 'x', undefined, f.fn),
      (e: unknown) => e instanceof UpstreamHttpError && e.code === OctopusErrorCode.Http && e.status === 503,
    );
    assert.equal(f.calls.length, 3);
  });

  for (const [name, make] of [
    ['404', () => new UpstreamNotFoundError('x')],
    ['400', () => new UpstreamHttpError(400, 'x')],
    ['403', () => new UpstreamHttpError(403, 'x')],
  ] as const) {
    it(`never retries a ${name}`, async () => {
      const f = failing(make());
      await assert.rejects(withRetries(policy(), 'x', undefined, f.fn));
      assert.equal(f.calls.length, 1);
    });
  }

  it('waits Retry-After on 429 and gives up at once when it exceeds the backoff cap', async () => {
    const f = failing(new UpstreamThrottledError('x', { retryAfterMs: 60_000 }));
    await assert.rejects(
      withRetries(policy(), 'x', undefined, f.fn),
      (e: unknown) => e instanceof UpstreamThrottledError && e.retryAfterMs === 60_000,
    );
    assert.equal(f.calls.length, 1);
    const g = failing(new UpstreamThrottledError('x', { retryAfterMs: 20 }));
    const started = performance.now();
    assert.equal(await withRetries(policy(), 'x', undefined, g.fn), 'ok');
    assert.ok(performance.now() - started >= 19, 'waited at least Retry-After');
  });

  it('takes a budget token for every attempt', async () => {
    const budget = new RequestBudget(100);
    const f = failing(new UpstreamTimeoutError('t'), new UpstreamTimeoutError('t'));
    await withRetries(policy(4, budget), 'x', undefined, f.fn);
    assert.equal(budget.available, 97);
  });

  it('stops a backoff wait with AbortedError when the signal fires', async () => {
    const ac = new AbortController();
    const p = withRetries(
      { ...policy(), backoff: { baseMs: 60_000, maxMs: 60_000 } },
      'x',
      ac.signal,
      async () => {
        queueMicrotask(() => ac.abort());
        throw new UpstreamTimeoutError('t');
      },
    );
    await assert.rejects(p, AbortedError);
  });
});
