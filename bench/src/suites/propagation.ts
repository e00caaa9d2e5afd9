import { fileURLToPath } from 'node:url';
import { headers } from '@nats-io/transport-node';
import { rateKey, ratesSubject } from '@ratebus/schema';
import { check, ManagedProcess } from '@ratebus/testkit';
import { AGILE_SLOTS, agileDoc, ROUND_HEADER, writerBus } from '../propagation/bus.js';
import { Cleanup, fmt, jsonLines, type Summary, sleep, summarize, wallNow } from '../propagation/util.js';
import type { Suite } from '../suite.js';

const WORKER = fileURLToPath(new URL('../propagation/worker.js', import.meta.url));
const WORKERS = 4;
/** NATS connections per worker process, the clients spread over them. */
const CONNS_PER_WORKER = 5;
const PRODUCT = 'AGILE-24-10-01';
const TARIFF = 'E-1R-AGILE-24-10-01-C';
/** A polling pod's period (PredBat, docs/clients-in-the-wild.md): with a uniform phase the wait is U(0, 30 min). */
const POLL_PERIOD_MIN = 30;
/** Bound on one round's wait for every client's report. */
const ROUND_TIMEOUT_MS = 60_000;
/** Gap between rounds, so one round's tail never overlaps the next write. */
const ROUND_GAP_MS = 300;

interface Row {
  readonly design: string;
  readonly all: Summary;
  /** Per write, the earliest client: what a pod with a CPU of its own would see. */
  readonly first: Summary;
}

/**
 * Time from a KV write to the update applied in every `RateClient` (on('update') for that revision), over
 * worker processes on this machine, beside a plain core-NATS subscriber in the same processes and the
 * computed delay of a 30-minute poll.
 */
export const propagationSuite: Suite = async ({ quick, log }) => {
  const clients = quick ? 200 : 1000;
  const writes = quick ? 3 : 20;
  const cleanup = new Cleanup();
  try {
    const { ns, nc, buckets } = await writerBus(cleanup, 'bench-propagation-writer');
    const key = rateKey(PRODUCT, TARIFF);
    // Every client holds the tariff before the first measured write, as a running pod would.
    await buckets.rates.put(key, JSON.stringify(agileDoc(PRODUCT, TARIFF, { seed: 1 })));

    const reports = new Map<string, number[][]>();
    const workers: ManagedProcess[] = [];
    const per = Math.ceil(clients / WORKERS);
    for (let w = 0; w < WORKERS; w++) {
      const n = Math.min(per, clients - w * per);
      const proc = await ManagedProcess.start({
        name: `propagation worker ${w}`,
        command: process.execPath,
        args: [WORKER],
        env: {
          ...process.env,
          NATS_URL: ns.url,
          CLIENTS: String(n),
          CONNS: String(CONNS_PER_WORKER),
          WORKER_INDEX: String(w),
        },
      });
      cleanup.add(proc.name, () => proc.stop(5_000));
      workers.push(proc);
      jsonLines(proc.child.stdout as NonNullable<typeof proc.child.stdout>, (m) => {
        const id = m.bench === 'kv' ? `kv:${m.rev}` : m.bench === 'core' ? `core:${m.round}` : 'ready';
        const list = reports.get(id) ?? [];
        list.push((m.times as number[] | undefined) ?? []);
        reports.set(id, list);
      });
    }
    const all = async (id: string, timeout: number): Promise<number[][]> => {
      try {
        return await check(
          () => {
            const dead = workers.find((p) => !p.running);
            if (dead) throw new Error(`${dead.name} exited: ${dead.output().slice(-2_000)}`);
            const r = reports.get(id);
            return r && r.length === WORKERS ? r : undefined;
          },
          { timeout, interval: 10, name: `${id} from ${WORKERS} workers` },
        );
      } catch (e) {
        const dead = workers.find((p) => !p.running);
        throw dead ? new Error(`${dead.name} exited: ${dead.output().slice(-2_000)}`, { cause: e }) : e;
      }
    };
    const startedAt = performance.now();
    await all('ready', 180_000);
    log(
      `${clients} clients in ${WORKERS} processes ready after ${((performance.now() - startedAt) / 1000).toFixed(1)} s`,
    );

    const kvLatency: number[] = [];
    const kvFirst: number[] = [];
    const coreLatency: number[] = [];
    const coreFirst: number[] = [];
    const applySpacing: number[] = [];
    for (let round = 0; round < writes; round++) {
      const bytes = JSON.stringify(agileDoc(PRODUCT, TARIFF, { seed: round + 2 }));
      const t0 = wallNow();
      const rev = await buckets.rates.put(key, bytes);
      const perWorker = await all(`kv:${rev}`, ROUND_TIMEOUT_MS);
      // Spacing of the applies inside one process: the CPU one client's apply takes there.
      for (const times of perWorker) {
        if (times.length > 1)
          applySpacing.push((Math.max(...times) - Math.min(...times)) / (times.length - 1));
      }
      const kv = perWorker.flat().map((t) => t - t0);
      kvLatency.push(...kv);
      kvFirst.push(Math.min(...kv));
      await sleep(ROUND_GAP_MS);

      // The same bytes as a fetcher's live push on ratebus.rates.{p}.{t}, to plain subscribers: the floor.
      const h = headers();
      h.set(ROUND_HEADER, String(round));
      const t1 = wallNow();
      nc.publish(ratesSubject(PRODUCT, TARIFF), bytes, { headers: h });
      const core = (await all(`core:${round}`, ROUND_TIMEOUT_MS)).flat().map((t) => t - t1);
      coreLatency.push(...core);
      coreFirst.push(Math.min(...core));
      log(
        `write ${round + 1}/${writes}: KV p50 ${fmt(summarize(kv).p50)} ms max ${fmt(summarize(kv).max)} ms; core max ${fmt(summarize(core).max)} ms`,
      );
      await sleep(ROUND_GAP_MS);
    }

    const rows: Row[] = [
      {
        design: 'ratebus `RateClient` (KV watch → validated, applied, `on(update)`)',
        all: summarize(kvLatency),
        first: summarize(kvFirst),
      },
      {
        design: 'plain core-NATS subscriber, same processes (lower bound)',
        all: summarize(coreLatency),
        first: summarize(coreFirst),
      },
    ];
    const pollMs = POLL_PERIOD_MIN * 60_000;
    const poll = { p50: pollMs * 0.5, p99: pollMs * 0.99, max: pollMs, mean: pollMs / 2 };
    const ms = (n: number | null) => `${fmt(n, 1)} ms`;
    const markdown = [
      `One NATS server; a writer puts a new Agile-sized document (${AGILE_SLOTS} half-hour slots, ${Math.round(bytesOf(PRODUCT, TARIFF) / 1024)} KiB) into \`ratebus-rates\`, ${writes} times. ` +
        `${clients} \`RateClient\`s in ${WORKERS} child processes (${CONNS_PER_WORKER} NATS connections each) report the wall-clock time of their \`on('update')\` for that revision. ` +
        'After each KV round the same bytes are published once on `ratebus.rates.{product}.{tariff}` to one plain core-NATS subscription per client in the same processes (receipt only, no parsing): the floor set by NATS and the event loops. Like the KV watches (one per client), every subscription gets its own copy, so each write is delivered once per client. ' +
        `Latency = report time − time just before the write (all processes on one machine, one clock). ${writes * clients} samples per row.`,
      '',
      '| design | p50 | p99 | max | mean | first client per write, p50 / max |',
      '|---|---:|---:|---:|---:|---:|',
      ...rows.map(
        (r) =>
          `| ${r.design} | ${ms(r.all.p50)} | ${ms(r.all.p99)} | ${ms(r.all.max)} | ${ms(r.all.mean)} | ${ms(r.first.p50)} / ${ms(r.first.max)} |`,
      ),
      `| polling pod, every ${POLL_PERIOD_MIN} min (computed: uniform phase) | ${fmt(poll.p50 / 60_000)} min | ${fmt(poll.p99 / 60_000)} min | ${fmt(poll.max / 60_000)} min | ${fmt(poll.mean / 60_000)} min | — |`,
      '',
      `Each worker process runs ~${per} clients on one event loop and the machine has few cores, so a client's apply waits for the others in its process (each validates the document): ` +
        `p99 and max measure that queue: inside a process the applies came ${fmt(summarize(applySpacing).p50, 2)} ms apart (median), one client after the other. ` +
        'A pod has one client, so "first client per write" is closer to what one pod sees.',
    ].join('\n');
    return {
      title: `Propagation: KV write to update applied in ${clients.toLocaleString('en')} clients`,
      markdown,
      data: {
        clients,
        workers: WORKERS,
        connsPerWorker: CONNS_PER_WORKER,
        writes,
        rows,
        applySpacing: summarize(applySpacing),
        pollMs: poll,
      },
    };
  } finally {
    await cleanup.run(log);
  }
};

function bytesOf(product: string, tariff: string): number {
  return Buffer.byteLength(JSON.stringify(agileDoc(product, tariff)));
}
