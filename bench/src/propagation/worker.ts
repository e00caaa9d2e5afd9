/**
 * Propagation worker (a child process of the propagation suite): starts CLIENTS `RateClient`s over CONNS
 * NATS connections, plus one plain core-NATS subscription on `ratebus.rates.>` per client (the lower bound),
 * and reports to the parent, as JSON lines on stdout, the wall-clock time at which every client applied each
 * revision (`{"bench":"kv","rev","times"}`) and received each core message (`{"bench":"core","round","times"}`).
 * Same machine as the parent, so `performance.timeOrigin + performance.now()` is comparable across processes.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { RateClient } from '@ratebus/client';
import { SUBJECTS } from '@ratebus/schema';
import { ROUND_HEADER } from './bus.js';
import { exitWithParent, wallNow } from './util.js';

const servers = process.env.NATS_URL ?? '';
const clientCount = Number(process.env.CLIENTS ?? '0');
const connCount = Math.max(1, Number(process.env.CONNS ?? '1'));
const index = process.env.WORKER_INDEX ?? '0';

const emit = (kind: string, o: Record<string, unknown>) =>
  process.stdout.write(`${JSON.stringify({ bench: kind, ...o })}\n`);

async function main(): Promise<void> {
  exitWithParent();
  const conns: NatsConnection[] = [];
  for (let i = 0; i < connCount; i++) {
    conns.push(
      await connect({ servers, name: `bench-propagation-w${index}-${i}`, maxReconnectAttempts: -1 }),
    );
  }
  const clients: RateClient[] = [];
  const kv = new Map<number, number[]>();
  const core = new Map<string, number[]>();
  const record = <K>(m: Map<K, number[]>, key: K, kind: string, field: string) => {
    const t = wallNow();
    const times = m.get(key) ?? [];
    m.set(key, times);
    times.push(t);
    if (times.length === clientCount) {
      m.delete(key);
      emit(kind, { [field]: key, times });
    }
  };
  for (let i = 0; i < clientCount; i++) {
    const nc = conns[i % connCount] as NatsConnection;
    const c = await RateClient.connect({ nc, name: `bench-w${index}-c${i}` });
    c.on('update', (u) => {
      if (u.kind === 'document') record(kv, u.revision, 'kv', 'rev');
    });
    clients.push(c);
    nc.subscribe(SUBJECTS.allRates, {
      callback: (err, msg) => {
        if (!err) record(core, msg.headers?.get(ROUND_HEADER) ?? '?', 'core', 'round');
      },
    });
  }
  await Promise.all(clients.map((c) => c.ready()));
  await Promise.all(conns.map((nc) => nc.flush()));
  emit('ready', { clients: clientCount, rss: process.memoryUsage().rss });

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void Promise.allSettled(clients.map((c) => c.close()))
      .then(() => Promise.allSettled(conns.map((nc) => nc.close())))
      .finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
