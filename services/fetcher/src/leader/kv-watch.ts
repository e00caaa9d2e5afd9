import type { KV, KvEntry } from '@nats-io/kv';

export interface KvWatchOptions {
  /** Ends the watch; the returned promise then resolves. */
  signal: AbortSignal;
  /** Pause before a failed or ended watch is recreated, real ms. */
  retryMs: number;
  /** Called with every entry, initial values first. */
  onEntry: (e: KvEntry) => void;
  /** A watch that failed (never called once `signal` has aborted). */
  onError: (err: unknown) => void;
}

/**
 * Watches every key of a bucket until `signal` aborts, recreating the watch `retryMs` after it fails or
 * ends. Never rejects.
 */
export async function watchKv(kv: KV, { signal, retryMs, onEntry, onError }: KvWatchOptions): Promise<void> {
  while (!signal.aborted) {
    try {
      const w = await kv.watch({ key: '>' });
      const onAbort = () => w.stop();
      // The signal may have aborted while the watch was being created: an abort listener added now never fires.
      if (signal.aborted) onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        for await (const e of w) onEntry(e);
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
    } catch (err) {
      if (!signal.aborted) onError(err);
    }
    await pause(retryMs, signal);
  }
}

/** Real-time pause that ends early (without rejecting) on abort. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
