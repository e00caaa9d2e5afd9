/**
 * Coalesces concurrent work per key: while a run for a key is in flight, every caller gets the same
 * promise, so however many ask, upstream is asked once. The work function must not reject.
 */
export class SingleFlight<T> {
  readonly #inFlight = new Map<string, Promise<T>>();

  /** True while a run for `key` is in flight. */
  has(key: string): boolean {
    return this.#inFlight.has(key);
  }

  /** Number of runs in flight. */
  get size(): number {
    return this.#inFlight.size;
  }

  /** Joins the run in flight for `key`, or starts `work`. */
  do(key: string, work: () => Promise<T>): Promise<T> {
    const running = this.#inFlight.get(key);
    if (running !== undefined) return running;
    const p = (async () => {
      try {
        return await work();
      } finally {
        this.#inFlight.delete(key);
      }
    })();
    this.#inFlight.set(key, p);
    return p;
  }

  /** Settles once every run in flight now (and any started meanwhile) has settled. */
  async idle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight.values()]);
  }
}
