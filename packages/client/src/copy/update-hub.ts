import type { UpdateKind } from '../hooks.js';
import type { ClientLogger } from '../logger.js';
import { errInfo } from '../logger.js';
import type { RateView } from './view.js';

/** A change to the local copy. */
export interface RateUpdate {
  /** `document`: new content; `confirmation`: same content confirmed again; `removed`: gone from the bus. */
  readonly kind: UpdateKind;
  readonly product: string;
  readonly tariff: string;
  readonly revision: number;
  /** The new view; undefined when removed. */
  readonly view: RateView | undefined;
  /**
   * Present when the revision went down: the stream leader had the key below the held revision (the server
   * lost or renumbered writes) and its entry was taken. Term and coverage still never go back.
   */
  readonly rebased?: true;
}

export type UpdateListener = (u: RateUpdate) => void;

/** Fans updates out to listeners and bounded async iterators. */
export class UpdateHub {
  private readonly listeners = new Set<UpdateListener>();
  private readonly iterators = new Set<{ push(u: RateUpdate): void; end(): void }>();
  private closed = false;
  dropped = 0;

  constructor(
    private readonly maxBuffered: number,
    private readonly logger: ClientLogger,
  ) {}

  on(listener: UpdateListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(u: RateUpdate): void {
    for (const l of this.listeners) {
      try {
        l(u);
      } catch (e) {
        this.logger.warn(errInfo(e), 'update listener threw');
      }
    }
    for (const it of this.iterators) it.push(u);
  }

  /** An iterator of updates from now on; ends when the client closes or the consumer breaks out. */
  iterate(): AsyncIterableIterator<RateUpdate> {
    const buffer: RateUpdate[] = [];
    let wake: (() => void) | null = null;
    let done = this.closed;
    const self = this;
    const handle = {
      push(u: RateUpdate) {
        buffer.push(u);
        if (buffer.length > self.maxBuffered) {
          buffer.shift();
          self.dropped++;
        }
        wake?.();
      },
      end() {
        done = true;
        wake?.();
      },
    };
    if (!done) this.iterators.add(handle);
    const finish = (): IteratorResult<RateUpdate> => {
      done = true;
      this.iterators.delete(handle);
      return { done: true, value: undefined };
    };
    return {
      [Symbol.asyncIterator]() {
        return this;
      },
      async next(): Promise<IteratorResult<RateUpdate>> {
        for (;;) {
          const u = buffer.shift();
          if (u) return { done: false, value: u };
          if (done) return finish();
          await new Promise<void>((r) => {
            wake = r;
          });
          wake = null;
        }
      },
      async return(): Promise<IteratorResult<RateUpdate>> {
        buffer.length = 0;
        return finish();
      },
    };
  }

  close(): void {
    this.closed = true;
    for (const it of this.iterators) it.end();
    this.iterators.clear();
    this.listeners.clear();
  }
}
