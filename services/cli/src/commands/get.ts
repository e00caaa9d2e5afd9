import type { TariffRef } from '@ratebus/schema';
import { openConnection, openRates } from '../bus.js';
import { NotHeldError } from '../errors.js';
import { fields, formatAge, summarize, summaryPairs } from '../format.js';
import type { CommandContext } from './context.js';

/** `ratebus get <product> <tariff>`: a summary with freshness, or (`--json`) the whole document. */
export async function get(ctx: CommandContext, ref: TariffRef): Promise<number> {
  const nc = await openConnection(ctx.settings, { timeoutMs: ctx.timeoutMs, persistent: false });
  try {
    const client = await openRates(nc, ctx.settings.name, ctx.timeoutMs);
    try {
      const view = client.get(ref.product, ref.tariff);
      if (!view) throw new NotHeldError(ref.product, ref.tariff);
      if (ctx.json) {
        ctx.io.out(JSON.stringify(view.document, null, 2));
        return 0;
      }
      ctx.io.out(
        fields([
          ...summaryPairs(summarize(view.document)),
          ['revision', String(view.revision)],
          ['confirmed at', view.confirmedAt.toISOString()],
          ['freshness', `${view.freshness} (${formatAge(view.ageMs)} since the last confirmation)`],
        ]),
      );
      return 0;
    } finally {
      await client.close();
    }
  } finally {
    await nc.close();
  }
}
