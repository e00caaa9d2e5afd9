import { fileURLToPath } from 'node:url';
import { putDocs } from '@ratebus/fixtures';
import { startSimulator } from '@ratebus/octopus-sim';
import { REGIONS } from '@ratebus/schema';
import { ManagedProcess } from '@ratebus/testkit';
import { AGILE_SLOTS, agileDoc, syntheticTariff, writerBus } from '../propagation/bus.js';
import { Cleanup, fmt, quantile, within } from '../propagation/util.js';
import type { Suite } from '../suite.js';

const CHILD = fileURLToPath(new URL('../podcost/child.js', import.meta.url));
/** Bound on one child's measurement. */
const CHILD_TIMEOUT_MS = 180_000;
const MIB = 2 ** 20;

/** The simulator's Agile-shaped tariffs (half-hourly, ~300 rows in 3 pages): import and export, 14 regions each. */
const SIM_PATHS = ['AGILE-24-10-01', 'AGILE-OUTGOING-19-05-13'].flatMap((p) =>
  REGIONS.map((r) => `/v1/products/${p}/electricity-tariffs/E-1R-${p}-${r}/`),
);

interface Measure {
  readonly mode: 'ratebus' | 'naive';
  readonly ms: number;
  readonly held: number;
  readonly requests: number;
  /** Unit-rate rows held, all tariffs. */
  readonly rows: number;
  readonly rssBefore: number;
  readonly rssAfter: number;
  readonly heapBefore: number;
  readonly heapAfter: number;
  readonly externalAfter: number;
}

interface Row {
  readonly tariffs: number;
  readonly mode: 'ratebus' | 'naive';
  /** Medians over the repetitions. */
  readonly ms: number;
  readonly rssDelta: number;
  readonly heapDelta: number;
  readonly rssAfter: number;
  readonly requests: number;
  readonly rowsPerTariff: number;
  readonly runs: Measure[];
}

async function measure(
  mode: 'ratebus' | 'naive',
  tariffs: number,
  env: Record<string, string>,
  cleanup: Cleanup,
): Promise<Measure> {
  const proc = await ManagedProcess.start({
    name: `podcost ${mode} ${tariffs}`,
    command: process.execPath,
    args: ['--expose-gc', CHILD],
    env: { ...process.env, ...env, MODE: mode, TARIFFS: String(tariffs) },
  });
  cleanup.add(proc.name, () => proc.stop(2_000));
  const exit = await within(proc.exited, CHILD_TIMEOUT_MS);
  const line = proc
    .output()
    .split('\n')
    .find((l) => l.startsWith('{"bench":"result"'));
  if (exit?.code !== 0 || !line) {
    throw new Error(`${proc.name} failed (${JSON.stringify(exit)}): ${proc.output().slice(-2_000)}`);
  }
  const m = JSON.parse(line) as Measure;
  if (m.held !== tariffs) throw new Error(`${proc.name} held ${m.held} tariffs, expected ${tariffs}`);
  return m;
}

const median = (xs: number[]) =>
  quantile(
    [...xs].sort((a, b) => a - b),
    0.5,
  ) as number;

/**
 * What one pod pays to hold N tariffs: a `RateClient`'s cold start (connect → `ready()` with all N) and
 * memory, beside a naive pod that GETs every tariff PredBat-style from the simulator. Each figure from a
 * fresh child process.
 */
export const podcostSuite: Suite = async ({ quick, log }) => {
  const sizes = quick ? [100] : [100, 1000];
  const reps = quick ? 1 : 3;
  const rows: Row[] = [];
  const cleanup = new Cleanup();
  try {
    const { ns, buckets } = await writerBus(cleanup, 'bench-podcost-writer');
    const sim = await startSimulator({ port: 0 });
    cleanup.add('simulator', () => sim.close());

    let inKv = 0;
    for (const size of sizes) {
      const docs = [];
      for (let i = inKv; i < size; i++) {
        const t = syntheticTariff(i);
        docs.push(agileDoc(t.product, t.tariff, { seed: i }));
      }
      await putDocs(buckets, docs);
      inKv = size;
      log(`${size} documents in KV`);
      for (const mode of ['ratebus', 'naive'] as const) {
        const runs: Measure[] = [];
        for (let r = 0; r < reps; r++) {
          const env =
            mode === 'ratebus'
              ? { NATS_URL: ns.url }
              : { SIM_URL: sim.url, TARIFF_PATHS: JSON.stringify(SIM_PATHS) };
          const m = await measure(mode, size, env, cleanup);
          runs.push(m);
          log(
            `${mode} ${size}: ${m.ms.toFixed(0)} ms, RSS +${((m.rssAfter - m.rssBefore) / MIB).toFixed(1)} MiB, heap +${((m.heapAfter - m.heapBefore) / MIB).toFixed(1)} MiB`,
          );
        }
        rows.push({
          tariffs: size,
          mode,
          ms: median(runs.map((m) => m.ms)),
          rssDelta: median(runs.map((m) => m.rssAfter - m.rssBefore)),
          heapDelta: median(runs.map((m) => m.heapAfter - m.heapBefore)),
          rssAfter: median(runs.map((m) => m.rssAfter)),
          requests: median(runs.map((m) => m.requests)),
          rowsPerTariff: median(runs.map((m) => m.rows)) / size,
          runs,
        });
      }
    }
  } finally {
    await cleanup.run(log);
  }

  const docKiB = Buffer.byteLength(JSON.stringify(agileDoc('AGILE-B1', 'E-1R-AGILE-B1-B'))) / 1024;
  const mib = (b: number) => fmt(b / MIB, 1);
  const markdown = [
    `Each figure is the median of ${reps} fresh child processes (\`node --expose-gc\`); memory is read after a full GC, before (modules loaded) and after. ` +
      `**ratebus**: N Agile-sized documents (${AGILE_SLOTS} half-hour slots, ${docKiB.toFixed(0)} KiB each) are in \`ratebus-rates\` on a local nats-server; ` +
      'a `RateClient` is created and the time runs from `connect()` until `ready()` resolves holding all N (listed, validated, applied). ' +
      '**naive**: the pod GETs each tariff as PredBat does (bare standard-unit-rates URL following `next` for 3 pages = 300 rows, then standing charges), sequentially over one keep-alive connection, ' +
      `from the simulator on loopback, keeping the parsed rows; the simulator has ${SIM_PATHS.length} Agile-shaped tariffs, so tariff i is fetched from tariff i mod ${SIM_PATHS.length} (each a separate download and a separate kept copy). ` +
      'Loopback has no network latency: against api.octopus.energy each of the naive requests also pays a round trip of tens to hundreds of ms.',
    '',
    '| tariffs | design | time to hold all | upstream requests | rate rows held per tariff | RSS delta | heap delta | heap delta per tariff | RSS after |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.tariffs} | ${r.mode === 'ratebus' ? 'ratebus `RateClient` (connect → ready)' : 'naive pod, PredBat-style GETs'} | ${fmt(r.ms, 0)} ms | ${r.requests} | ${fmt(r.rowsPerTariff, 0)} | ${mib(r.rssDelta)} MiB | ${mib(r.heapDelta)} MiB | ${fmt(r.heapDelta / r.tariffs / 1024, 0)} KiB | ${mib(r.rssAfter)} MiB |`,
    ),
  ].join('\n');
  return { title: 'Pod cost: cold start and memory', markdown, data: { reps, rows } };
};
