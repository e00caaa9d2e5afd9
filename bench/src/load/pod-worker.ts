/**
 * Pods of the ratebus design, in a child process (the load suite spreads 1,000 pods over a few of these,
 * as a fleet spreads them over hosts): pod i of [POD_FROM, POD_TO) is one `RateClient` that ensures its
 * tariffs. Reports to the parent as JSON lines: `{"bench":"held","pod","tariff","coversThrough"}` on every
 * new document of one of the pod's tariffs, `{"bench":"started"}` once every pod has connected and asked
 * for its tariffs, and `{"bench":"ready"}` once every pod holds all its tariffs.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { RateClient } from '@ratebus/client';
import { exitWithParent } from '../propagation/util.js';
import { podTariffs } from './scenario.js';

const servers = process.env.NATS_URL ?? '';
const from = Number(process.env.POD_FROM ?? '0');
const to = Number(process.env.POD_TO ?? '0');
const connCount = Math.max(1, Number(process.env.CONNS ?? '1'));

const emit = (kind: string, o: Record<string, unknown> = {}) =>
  process.stdout.write(`${JSON.stringify({ bench: kind, ...o })}\n`);

async function main(): Promise<void> {
  exitWithParent();
  const conns: NatsConnection[] = [];
  for (let i = 0; i < connCount; i++) {
    conns.push(await connect({ servers, name: `bench-load-pods-${from}-${i}`, maxReconnectAttempts: -1 }));
  }
  const pods: Array<{ i: number; client: RateClient }> = [];
  for (let i = from; i < to; i++) {
    const client = await RateClient.connect({
      nc: conns[i % connCount] as NatsConnection,
      name: `bench-pod-${i}`,
    });
    const mine = podTariffs(i);
    client.on('update', (u) => {
      if (u.kind !== 'document' || !mine.some((t) => t.tariff === u.tariff)) return;
      emit('held', { pod: i, tariff: u.tariff, coversThrough: u.view?.coversThrough ?? null });
    });
    for (const t of mine)
      void client.ensure(t.product, t.tariff, { timeoutMs: 120_000 }).catch(() => undefined);
    pods.push({ i, client });
  }
  emit('started');
  const allHeld = () =>
    pods.every(({ i, client }) => podTariffs(i).every((t) => client.get(t.product, t.tariff)));
  const timer = setInterval(() => {
    if (allHeld()) {
      clearInterval(timer);
      emit('ready');
    }
  }, 250);
  const stop = () => {
    clearInterval(timer);
    void Promise.allSettled(pods.map((p) => p.client.close()))
      .then(() => Promise.allSettled(conns.map((nc) => nc.close())))
      .finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e: unknown) => {
  process.stderr.write(`${String(e)}\n`);
  process.exit(1);
});
