import type { KV, KvEntry, KvWatchEntry } from '@nats-io/kv';
import type { QueuedIterator } from '@nats-io/transport-node';
import type { Epoch } from '../copy/local-copy.js';
import type { ClientHooks, ResyncKind } from '../hooks.js';
import { type ClientLogger, errInfo } from '../logger.js';
import { Backoff, Periodic, sleep } from '../timing.js';

/** The fields of a KV entry the sink uses. */
export type BucketEntry = Pick<KvEntry, 'key' | 'value' | 'revision' | 'operation' | 'created'>;

/** Receives what the informer sees; called synchronously, in revision order within one watch. */
export interface InformerSink {
  /** A PUT, DEL or PURGE entry. */
  onEntry(e: BucketEntry, epoch: Epoch): void;
  /** A full listing finished: keys not in `listed` are gone from the bucket. */
  onListed(listed: ReadonlySet<string>, epoch: Epoch): void;
}

export interface InformerOptions {
  readonly resyncIntervalMs: number;
  readonly resyncGraceMs: number;
  readonly relistIntervalMs: number;
  readonly retryInitialMs: number;
  readonly retryMaxMs: number;
  readonly jsTimeoutMs: number;
}

type Mode = 'relist' | 'resume';

/** The creation-time pending count of a v3 KV watch, from its internal consumer (see nats-notes §3.4.1). */
async function initialPending(w: QueuedIterator<KvWatchEntry>): Promise<number | null> {
  const oc = (w as unknown as { _data?: { info?(cached: boolean): Promise<{ num_pending: number }> } })._data;
  if (!oc?.info) return null;
  try {
    return (await oc.info(true)).num_pending;
  } catch {
    return null;
  }
}

/**
 * Keeps a sink in step with one whole KV bucket, informer-style (nats-notes §3.4): one LastValue watch is
 * the snapshot and then the updates; the last applied revision is compared with the stream's last
 * sequence on every `resync()` (reconnects) and on a timer, and the watch is resumed after that revision
 * or the bucket relisted; a full relist runs periodically; a watch that ends is restarted with backoff.
 */
export class BucketInformer {
  /** Highest revision seen (applied or rejected); consistent only when `consistent`. */
  private lastSeen = 0;
  private consistent = false;
  private epoch: Epoch | null = null;
  private watch: QueuedIterator<KvWatchEntry> | null = null;
  private nextMode: Mode = 'relist';
  private restartRequested = false;
  private stopped = false;
  private loop: Promise<void> | null = null;
  private readonly abort = new AbortController();
  private readonly resyncJob: Periodic;
  private readonly relistJob: Periodic;
  private readonly backoff: Backoff;
  private resolveSynced!: () => void;
  /** Resolves once the first full listing has been applied. */
  readonly synced: Promise<void> = new Promise((r) => {
    this.resolveSynced = r;
  });
  checks = 0;
  restarts = 0;
  /** Resync checks that found the stream's last sequence below the applied one (server lost or renumbered writes). */
  rollbacks = 0;
  /** Relists that listed fewer keys than the stream leader counted (served by a replica behind it). */
  shortListings = 0;

  constructor(
    private readonly kv: KV,
    readonly bucket: string,
    private readonly sink: InformerSink,
    private readonly opts: InformerOptions,
    private readonly logger: ClientLogger,
    private readonly hooks: ClientHooks,
  ) {
    this.backoff = new Backoff(opts.retryInitialMs, opts.retryMaxMs);
    const bound = opts.jsTimeoutMs * 2 + opts.resyncGraceMs;
    this.resyncJob = new Periodic(
      { name: `${bucket} resync`, intervalMs: () => opts.resyncIntervalMs, timeoutMs: bound, logger },
      () => this.check(),
    );
    this.relistJob = new Periodic(
      { name: `${bucket} relist`, intervalMs: () => opts.relistIntervalMs, timeoutMs: bound, logger },
      async () => this.restart('relist'),
    );
  }

  get currentEpoch(): Epoch | null {
    return this.epoch;
  }

  get lastRevision(): number {
    return this.lastSeen;
  }

  start(): void {
    if (this.loop || this.stopped) return;
    this.loop = this.supervise();
    this.resyncJob.start();
    this.relistJob.start();
  }

  /** Runs a resync check now (on reconnect); joins one in progress. Never rejects. */
  resync(): Promise<void> {
    return this.resyncJob.runNow();
  }

  /** Fetches one key directly and feeds it to the sink (used after a refresh reply). */
  async fetch(key: string): Promise<void> {
    const e = await this.kv.get(key);
    if (e && this.epoch !== null) this.sink.onEntry(e, this.epoch);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.abort.abort();
    this.watch?.stop();
    await Promise.all([this.resyncJob.stop(), this.relistJob.stop()]);
    await this.loop;
  }

  private restart(mode: Mode): void {
    if (this.stopped) return;
    if (mode === 'relist') this.nextMode = 'relist';
    this.restartRequested = true;
    this.emitResync(mode);
    this.watch?.stop();
  }

  /** Compares the bucket's last sequence with what was applied; resumes the watch when behind. */
  private async check(): Promise<void> {
    if (!this.consistent || !this.watch) return; // a (re)start is catching up by itself
    this.checks++;
    const st = await this.kv.status();
    if (st.streamInfo.created !== this.epoch) {
      this.logger.warn({ bucket: this.bucket }, 'bucket was recreated; relisting');
      return this.restart('relist');
    }
    const last = st.streamInfo.state.last_seq;
    if (last < this.lastSeen) {
      // The stream's sequence went back without a new stream: the server lost acknowledged writes, or we were
      // served by a replica that numbered them differently (nats-server 2.9.x after node crashes). Resuming after what we applied
      // would skip those; a relist sees every key, and a key held at a revision the leader no longer has is
      // taken from the store (CopyKeeper.checkLoss).
      this.rollbacks++;
      this.logger.warn(
        { bucket: this.bucket, last, applied: this.lastSeen },
        "the bucket's last sequence is below what this client applied; relisting",
      );
      this.lastSeen = last;
      return this.restart('relist');
    }
    if (last === this.lastSeen) return;
    // A write may be in flight to the watch right now; give it a moment before calling the watch stuck.
    await sleep(this.opts.resyncGraceMs, this.abort.signal);
    if (this.lastSeen >= last || this.stopped) return;
    this.logger.info(
      { bucket: this.bucket, last, applied: this.lastSeen },
      'watch behind the bucket; resuming',
    );
    this.restart('resume');
  }

  private async supervise(): Promise<void> {
    while (!this.stopped) {
      const mode: Mode = this.consistent && this.nextMode === 'resume' ? 'resume' : 'relist';
      this.nextMode = 'resume';
      this.restartRequested = false;
      try {
        await this.runWatch(mode);
        if (this.stopped) break;
        if (!this.restartRequested) throw new Error('watch ended');
      } catch (e) {
        if (this.stopped) break;
        this.restarts++;
        const delay = this.backoff.next();
        this.logger.warn(
          { bucket: this.bucket, delayMs: Math.round(delay), ...errInfo(e) },
          'watch failed; restarting',
        );
        await sleep(delay, this.abort.signal);
        this.emitResync('restart');
      } finally {
        this.watch = null;
      }
    }
  }

  private emitResync(kind: ResyncKind): void {
    try {
      this.hooks.onResync?.(kind, { bucket: this.bucket });
    } catch (e) {
      this.logger.warn(errInfo(e), 'onResync hook threw');
    }
  }

  private async runWatch(mode: Mode): Promise<void> {
    // Read the last sequence BEFORE the watch starts: once the watch has delivered what was pending at its
    // creation, everything up to this sequence is known, even messages removed in between (purges).
    const st = await this.kv.status();
    const epoch = st.streamInfo.created;
    const before = st.streamInfo.state.last_seq;
    // One subject per key (history 1 keeps one message per key, delete markers included).
    const subjects = st.streamInfo.state.num_subjects ?? st.values;
    if (this.epoch !== null && this.epoch !== epoch) mode = 'relist';
    if (mode === 'relist') this.consistent = false;
    if (this.epoch !== epoch) this.lastSeen = 0;
    this.epoch = epoch;
    const w = await this.kv.watch(mode === 'resume' ? { resumeFromRevision: this.lastSeen + 1 } : {});
    this.watch = w;
    if (this.restartRequested || this.stopped) w.stop();
    const pending = await initialPending(w);
    const listed = new Set<string>();
    let count = 0;
    let caughtUp = false;
    const catchUp = () => {
      caughtUp = true;
      this.lastSeen = Math.max(this.lastSeen, before);
      this.consistent = true;
      // The watch's consumer may be served by a replica that is behind the stream leader (just restarted,
      // or one that lost writes to a crash): its listing can then lack keys the leader holds. A listing
      // with fewer keys than the leader counted subjects is no proof that a key is gone: nothing is removed,
      // and the next relist (periodic) tries again. What the replica has not delivered yet, its consumer
      // delivers once it has caught up.
      if (mode === 'relist') {
        if (st.values === 0 || listed.size >= subjects) this.sink.onListed(listed, epoch);
        else {
          this.shortListings++;
          this.nextMode = 'relist';
          this.logger.warn(
            { bucket: this.bucket, listed: listed.size, subjects },
            'listing had fewer keys than the stream leader counts; keeping every held key',
          );
        }
        this.resolveSynced();
      }
      this.backoff.reset();
    };
    // Without the pending count, an empty bucket is recognised by its message count (racy but safe).
    if (pending === 0 || (pending === null && st.values === 0)) catchUp();
    for await (const e of w) {
      if (!caughtUp && mode === 'relist') listed.add(e.key);
      this.sink.onEntry(e, epoch);
      this.lastSeen = Math.max(this.lastSeen, e.revision);
      count++;
      if (!caughtUp && ((pending !== null && count >= pending) || e.delta === 0)) catchUp();
    }
  }
}
