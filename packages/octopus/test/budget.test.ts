import assert from 'node:assert/strict';
import { AbortedError, OctopusErrorCode, RequestBudget, withBudgetPriority } from '../src/index.js';

/** A budget driven by a hand-moved clock, so the rules are checked without waiting. */
function manualBudget(requests: number, perMs: number) {
  let now = 0;
  const budget = new RequestBudget({ requests, perMs }, () => now);
  return {
    budget,
    advance(ms: number) {
      now += ms;
    },
  };
}

describe('RequestBudget', () => {
  it('takes the number form as requests per minute', () => {
    const b = new RequestBudget(60);
    assert.equal(b.requests, 60);
    assert.equal(b.perMs, 60_000);
    assert.equal(b.available, 60);
  });

  it('rejects a zero, fractional or negative limit', () => {
    assert.throws(() => new RequestBudget(0), RangeError);
    assert.throws(() => new RequestBudget(1.5), RangeError);
    assert.throws(() => new RequestBudget({ requests: 5, perMs: 0 }), RangeError);
  });

  it('hands out exactly `requests` tokens per window and gives one back one period after it was spent', async () => {
    const { budget, advance } = manualBudget(3, 1000);
    for (let i = 0; i < 3; i++) await budget.acquire();
    assert.equal(budget.available, 0);
    advance(999);
    assert.equal(budget.available, 0, 'no token before the period has passed');
    advance(1);
    assert.equal(budget.available, 3);
  });

  it('never allows more than `requests` acquisitions in any window of perMs, with waiting callers served in order', async () => {
    const b = new RequestBudget({ requests: 4, perMs: 150 });
    const times: number[] = [];
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 13 }, (_, i) =>
        b.acquire().then(() => {
          times.push(performance.now());
          order.push(i);
        }),
      ),
    );
    assert.deepEqual(
      order,
      Array.from({ length: 13 }, (_, i) => i),
      'FIFO',
    );
    for (let i = 0; i + 4 < times.length; i++) {
      const span = (times[i + 4] as number) - (times[i] as number);
      assert.ok(span >= 149, `acquisitions ${i} and ${i + 4} only ${span.toFixed(1)} ms apart`);
    }
  });

  it('lets a waiting caller leave with AbortedError when its signal fires, without losing a token', async () => {
    const { budget } = manualBudget(1, 60_000);
    await budget.acquire();
    const ac = new AbortController();
    const waiting = budget.acquire(ac.signal);
    assert.equal(budget.waiting, 1);
    ac.abort();
    await assert.rejects(
      waiting,
      (e: unknown) => e instanceof AbortedError && e.code === OctopusErrorCode.Aborted,
    );
    assert.equal(budget.waiting, 0);
  });

  it('rejects at once when the signal has already fired', async () => {
    const b = new RequestBudget(10);
    await assert.rejects(b.acquire(AbortSignal.abort()), AbortedError);
    assert.equal(b.available, 10, 'an aborted acquire takes no token');
  });

  it('keeps the reserved tokens of a window for high-priority callers', async () => {
    const b = new RequestBudget({ requests: 4, perMs: 60_000, reserved: 2 });
    await b.acquire(undefined, 'low');
    await b.acquire(undefined, 'low');
    let lowServed = false;
    const low = b.acquire(AbortSignal.timeout(200), 'low').then(() => {
      lowServed = true;
    });
    // Both reserved tokens still go to high callers at once.
    await b.acquire(undefined, 'high');
    await b.acquire(undefined, 'high');
    await assert.rejects(low, AbortedError);
    assert.equal(lowServed, false, 'a low caller never took a reserved token');
  });

  it('serves a waiting high-priority caller before low ones that queued earlier', async () => {
    const b = new RequestBudget({ requests: 2, perMs: 150 });
    await b.acquire();
    await b.acquire();
    const order: string[] = [];
    const lows = [1, 2, 3].map((i) => b.acquire(undefined, 'low').then(() => order.push(`low${i}`)));
    const high = b.acquire(undefined, 'high').then(() => order.push('high'));
    await Promise.all([...lows, high]);
    assert.equal(order[0], 'high', `order was ${order.join(', ')}`);
  });

  it('applies the priority set by withBudgetPriority to acquisitions made inside it, across awaits', async () => {
    const b = new RequestBudget({ requests: 3, perMs: 60_000, reserved: 2 });
    await withBudgetPriority('low', async () => {
      await Promise.resolve();
      await b.acquire();
    });
    await assert.rejects(
      withBudgetPriority('low', () => b.acquire(AbortSignal.timeout(100))),
      AbortedError,
      'the second low acquisition would take a reserved token',
    );
    await b.acquire(AbortSignal.timeout(100));
    assert.equal(b.available, 1, 'an acquisition outside withBudgetPriority is high priority');
  });

  it('rejects a reserve that leaves nothing for low-priority callers', () => {
    assert.throws(() => new RequestBudget({ requests: 5, reserved: 5 }), RangeError);
    assert.throws(() => new RequestBudget({ requests: 5, reserved: -1 }), RangeError);
  });
});
