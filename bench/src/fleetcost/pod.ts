/**
 * Fleet-cost child (a child process of the fleetcost suite, run with --expose-gc): starts PODS `RateClient`s,
 * each on its own NATS connection (named `fleetcost-{MODE}-{INDEX}-{i}`, so the server's `/connz` tells its
 * bytes), each ensuring its three tariffs (TARIFFS: a JSON array per pod). MODE is the client's `sync`
 * option; SCALE divides every periodic timer (resync, relist, interest), so that a short window stands for
 * SCALE times as long. Reports JSON lines: `ready` (per-pod cold start, heap per pod after a full GC),
 * `applied` (pod, key, revision) for every new document, and on SIGUSR2 `stats` (its pods' reconnects and
 * watch restarts by kind, summed).
 */
import { RateClient, type SyncMode } from '@ratebus/client';
import { exitWithParent } from '../propagation/util.js';

const servers = process.env.NATS_URL ?? '';
const mode = (process.env.MODE ?? 'bucket') as SyncMode;
const index = process.env.INDEX ?? '0';
const scale = Number(process.env.SCALE ?? '1');
const perPod = JSON.parse(process.env.TARIFFS ?? '[]') as { product: string; tariff: string }[][];
const gc = (globalThis as { gc?: () => void }).gc;

/** The client's defaults (15 s / 60 s resync, 5 min relist, interest TTL 1 h / 4), divided by SCALE. */
const RESYNC_MS = mode === 'tariffs' ? 60_000 : 15_000;
const RELIST_MS = 5 * 60_000;
const INTEREST_MS = 15 * 60_000;

const emit = (kind: string, o: Record<string, unknown>) =>
  process.stdout.write(`${JSON.stringify({ bench: kind, ...o })}\n`);

async function main(): Promise<void> {
  exitWithParent();
  if (!gc) throw new Error('run with --expose-gc');
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const clients: RateClient[] = [];
  // One pod after the other: a pod's cold start is its own, not a share of a herd on two cores (a herd of
  // whole-bucket mirrors also makes the server cut the process's connections as slow consumers).
  const coldStartMs: number[] = [];
  for (const [i, tariffs] of perPod.entries()) {
    const t0 = performance.now();
    const c = await RateClient.connect({
      servers,
      name: `fleetcost-${mode}-${index}-${i}`,
      sync: mode,
      ...(mode === 'tariffs' ? { tariffs } : {}),
      resyncIntervalMs: Math.round(RESYNC_MS / scale),
      relistIntervalMs: Math.round(RELIST_MS / scale),
      interestCheckIntervalMs: Math.round(INTEREST_MS / scale),
    });
    clients.push(c);
    await c.ready();
    for (const t of tariffs) await c.ensure(t.product, t.tariff, { timeoutMs: 30_000 });
    coldStartMs.push(performance.now() - t0);
    emit('started', { pod: `${index}-${i}` });
    c.on('update', (u) => {
      if (u.kind === 'document') {
        emit('applied', { pod: `${index}-${i}`, key: `${u.product}.${u.tariff}`, rev: u.revision });
      }
    });
  }
  gc();
  const heapPerPod = (process.memoryUsage().heapUsed - heapBefore) / perPod.length;
  const held = clients.reduce((n, c) => n + c.stats().held, 0) / clients.length;
  emit('ready', { pods: perPod.length, coldStartMs, heapPerPod, heldPerPod: held });
  process.on('SIGUSR2', () => {
    const resyncs: Record<string, number> = {};
    let reconnects = 0;
    for (const c of clients) {
      const st = c.stats();
      reconnects += st.reconnects;
      for (const [kind, n] of Object.entries(st.resyncs)) resyncs[kind] = (resyncs[kind] ?? 0) + n;
    }
    emit('stats', { reconnects, resyncs });
  });

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void Promise.allSettled(clients.map((c) => c.close())).finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
