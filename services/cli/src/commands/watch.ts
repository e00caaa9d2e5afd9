import type { RateUpdate } from '@ratebus/client';
import { rateKey, type TariffRef } from '@ratebus/schema';
import { openConnection, openRates } from '../bus.js';
import { ConnectError } from '../errors.js';
import { hashPrefix } from '../format.js';
import type { CommandContext } from './context.js';

/** One update as printed (`--json`: one object per line). */
export interface WatchLine {
  readonly time: string;
  readonly key: string;
  /** `document` (new content), `confirmation` (same content confirmed again) or `removed`. */
  readonly kind: string;
  readonly revision: number;
  readonly term: number | null;
  readonly coversThrough: string | null;
  readonly contentHash: string | null;
  readonly freshness: string | null;
}

export function watchLine(u: RateUpdate, now: Date): WatchLine {
  const doc = u.view?.document;
  return {
    time: now.toISOString(),
    key: `${u.product}.${u.tariff}`,
    kind: u.kind,
    revision: u.revision,
    term: doc?.term ?? null,
    coversThrough: u.view?.coversThrough ?? null,
    contentHash: doc?.contentHash ?? null,
    freshness: u.view?.freshness ?? null,
  };
}

export function renderWatchLine(l: WatchLine): string {
  if (l.kind === 'removed') return `${l.time}  ${l.key}  removed  rev=${l.revision}`;
  return [
    l.time,
    l.key,
    l.kind,
    `rev=${l.revision}`,
    `term=${l.term ?? '-'}`,
    `covers=${l.coversThrough ?? 'open-ended'}`,
    `hash=${l.contentHash ? hashPrefix(l.contentHash) : '-'}`,
    l.freshness ?? '',
  ]
    .join('  ')
    .trimEnd();
}

/**
 * `ratebus watch [<product> <tariff>]`: one line per change from now on, until the signal aborts (Ctrl-C);
 * then the client is closed and the command returns 0. Reconnects for ever meanwhile.
 */
export async function watch(ctx: CommandContext, ref: TariffRef | null): Promise<number> {
  const nc = await openConnection(ctx.settings, { timeoutMs: ctx.timeoutMs, persistent: true });
  try {
    const client = await openRates(nc, ctx.settings.name, ctx.timeoutMs);
    const signal = ctx.io.interruptible();
    const stop = () => void client.close();
    signal.addEventListener('abort', stop, { once: true });
    // Reconnects never stop, so the connection only closes for good on a fatal error (e.g. auth revoked).
    let lost = false;
    void nc.closed().then(() => {
      lost = !signal.aborted;
      stop();
    });
    try {
      const only = ref ? rateKey(ref.product, ref.tariff) : null;
      const updates = client.updates();
      ctx.io.err(
        `watching ${only ?? 'every tariff'} (${client.tariffs().length} held); press Ctrl-C to stop`,
      );
      if (signal.aborted) stop();
      for await (const u of updates) {
        if (only !== null && `${u.product}.${u.tariff}` !== only) continue;
        const line = watchLine(u, new Date());
        ctx.io.out(ctx.json ? JSON.stringify(line) : renderWatchLine(line));
      }
      if (lost) throw new ConnectError(ctx.settings.servers, 'the connection was closed');
      return 0;
    } finally {
      signal.removeEventListener('abort', stop);
      await client.close();
    }
  } finally {
    await nc.close();
  }
}
