import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import type { Suite, SuiteResult } from './suite.js';
import { durabilitySuite } from './suites/durability.js';
import { failoverSuite } from './suites/failover.js';
import { failoverContainersSuite } from './suites/failover-containers.js';
import { fleetcostSuite } from './suites/fleetcost.js';
import { gatewaySuite } from './suites/gateway.js';
import { loadSuite } from './suites/load.js';
import { podcostSuite } from './suites/podcost.js';
import { predbatSuite } from './suites/predbat.js';
import { propagationSuite } from './suites/propagation.js';
import { publicationSuite } from './suites/publication.js';

/** Every suite, in the order of docs/benchmarks.md. */
const SUITES: Record<string, Suite> = {
  load: loadSuite,
  propagation: propagationSuite,
  failover: failoverSuite,
  'failover-containers': failoverContainersSuite,
  podcost: podcostSuite,
  fleetcost: fleetcostSuite,
  gateway: gatewaySuite,
  predbat: predbatSuite,
  publication: publicationSuite,
  durability: durabilitySuite,
};

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    /** Rebuild docs/benchmarks.md from the results on disk without running anything. */
    'doc-only': { type: 'boolean', default: false },
  },
});
const quick = values.quick ?? false;
/** Suites that need a running compose deployment: only with `--only` (test/compose/run.sh runs them). */
const NEEDS_COMPOSE = new Set(['failover-containers']);
const names = values.only ? values.only.split(',') : Object.keys(SUITES).filter((n) => !NEEDS_COMPOSE.has(n));
const RESULTS = 'bench/results';
const DOC = 'docs/benchmarks.md';
/** `bench/notes/<suite>.md`, when present, is appended to that suite's section. */
const NOTES = 'bench/notes';

interface Stored extends SuiteResult {
  readonly suite: string;
  readonly ranAt: string;
  readonly quick: boolean;
  readonly command: string;
  readonly machine: string;
}

async function main(): Promise<void> {
  await mkdir(RESULTS, { recursive: true });
  if (values['doc-only']) {
    await writeDoc();
    return;
  }
  const machine = `${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
  for (const name of names) {
    const suite = SUITES[name];
    if (!suite) throw new Error(`unknown suite ${name}; known: ${Object.keys(SUITES).join(', ')}`);
    console.log(`\n### ${name}${quick ? ' (quick)' : ''}`);
    const result = await suite({ quick, log: (l) => console.log(l) });
    console.log(`\n${result.markdown}`);
    const stored: Stored = {
      suite: name,
      ranAt: new Date().toISOString(),
      quick,
      machine,
      ...result,
      command: result.command ?? `npm run bench -- --only ${name}${quick ? ' --quick' : ''}`,
    };
    // Quick runs are smoke tests: they never replace the published figures.
    await writeFile(
      `${RESULTS}/${name}${quick ? '.quick' : ''}.json`,
      `${JSON.stringify(stored, null, 2)}\n`,
    );
  }
  if (!quick) await writeDoc();
}

/** docs/benchmarks.md from every full result on disk, so running one suite keeps the others' sections. */
async function writeDoc(): Promise<void> {
  const sections: string[] = [];
  for (const name of Object.keys(SUITES)) {
    const text = await readFile(`${RESULTS}/${name}.json`, 'utf8').catch(() => null);
    if (!text) {
      sections.push(
        `## ${name}: no full run recorded yet\n\nReproduce: \`npm run bench -- --only ${name}\`\n`,
      );
      continue;
    }
    const r = JSON.parse(text) as Stored;
    // Notes written by hand (other runs, what a figure depends on) survive the regeneration of this page.
    const notes = await notesOf(name);
    sections.push(
      `## ${r.title}\n\nMeasured ${r.ranAt.slice(0, 16).replace('T', ' ')} UTC on ${r.machine}.\nReproduce: \`${r.command}\`\n\n${r.markdown}\n${notes ? `\n${notes.trimEnd()}\n` : ''}`,
    );
  }
  const chaos = await chaosSection();
  const chaosNotes = await notesOf('chaos');
  if (chaos) sections.push(chaosNotes ? `${chaos}\n${chaosNotes.trimEnd()}\n` : chaos);
  const head =
    '# Benchmarks\n\nEvery figure below was measured by `npm run bench` (all suites; `--only <suite>` for one, ' +
    '`--quick` for the CI smoke run, which does not update this page). Each table puts ratebus side by side ' +
    'with its baseline, measured in the same run. Raw figures: `bench/results/*.json`.\n';
  await mkdir('docs', { recursive: true });
  await writeFile(DOC, `${head}\n${sections.join('\n')}`);
  console.log(`\nwrote ${DOC}`);
}

/** The hand-written notes of a section (`bench/notes/<name>.md`), or null. */
function notesOf(name: string): Promise<string | null> {
  return readFile(`${NOTES}/${name}.md`, 'utf8').catch(() => null);
}

interface ChaosSummary {
  mode: string;
  finishedAt: string;
  chaosMs: number;
  faults: Record<string, number>;
  /** The hostile pod's attempts by attack and outcome (runs since it joined the fault mix). */
  hostile?: Record<string, { attempts: number; outcomes: Record<string, number> }>;
  checks: Record<string, number>;
  violations: Record<string, number>;
  totalViolations: number;
  convergenceBoundMs: number;
  convergenceMs: number | null;
  upstreamRequests: number;
  violationSamples?: string[];
  streamRollbacks?: Array<{ at: string; stream: string; lastSeq: number; previousHigh: number }>;
  podUpdatesRebased?: number;
  podStats?: Array<{ sequenceRollbacks?: number }>;
}

/** The chaos suite's long mode writes its own summary (`RATEBUS_CHAOS=long`); it is shown here as is. */
async function chaosSection(): Promise<string | null> {
  const text = await readFile(`${RESULTS}/chaos-long.json`, 'utf8').catch(() => null);
  if (!text) return null;
  const c = JSON.parse(text) as ChaosSummary;
  const row = (o: Record<string, number>) =>
    Object.entries(o)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
  return [
    '## Chaos: invariants under faults (long mode)',
    '',
    `Run finished ${c.finishedAt.slice(0, 16).replace('T', ' ')} UTC: ${Math.round(c.chaosMs / 60_000)} minutes of faults, all at once.`,
    `Reproduce: \`RATEBUS_CHAOS=long npx mocha --no-config --timeout 1200000 --exit test/dist/chaos/chaos.test.js\` (after \`npm run build\`; \`RATEBUS_CHAOS_MS\` sets the length). The short mode runs in \`npm test\`. What each fault and invariant means, and every long run so far with what it found: [test/chaos/README.md](../test/chaos/README.md) ("Long mode runs").`,
    '',
    '| | |',
    '|---|---|',
    // With the hostile pod's attempts in their own row, its flat `hostile-*` counts are left out of this one.
    `| faults injected | ${row(
      Object.fromEntries(
        Object.entries(c.faults).filter(
          ([k]) => !(c.hostile && k.startsWith('hostile-') && k !== 'hostile-pod'),
        ),
      ),
    )} |`,
    ...(c.hostile
      ? [
          `| hostile pod (pod credentials), attempts by attack (outcomes) | ${Object.entries(c.hostile)
            .map(([k, h]) => `${k} ${h.attempts} (${row(h.outcomes)})`)
            .join('; ')} |`,
        ]
      : []),
    `| invariant checks made | ${row(c.checks)} |`,
    `| violations | **${c.totalViolations}** (${row(c.violations)}) |`,
    `| convergence after the faults stopped | ${c.convergenceMs === null ? `not within the bound (${c.convergenceBoundMs} ms)` : `${c.convergenceMs} ms (bound ${c.convergenceBoundMs} ms)`} |`,
    `| upstream requests during the run | ${c.upstreamRequests} |`,
    ...(c.podUpdatesRebased === undefined
      ? []
      : [
          `| pods' resync checks that found a bucket's sequence below what they had applied / updates they took at a lower revision because the stream leader had the key below the revision they had been served (the server's replicas numbered writes differently after node crashes) | ${(c.podStats ?? []).reduce((n, p) => n + (p.sequenceRollbacks ?? 0), 0)} / ${c.podUpdatesRebased} |`,
        ]),
    ...(c.streamRollbacks
      ? [
          `| stream leader reporting a lower last sequence than an earlier leader (acknowledged writes lost; diagnostic) | ${
            c.streamRollbacks.length === 0
              ? 'never'
              : `${c.streamRollbacks.length} samples, first: ${c.streamRollbacks
                  .slice(0, 1)
                  .map((r) => `${r.stream} ${r.lastSeq} after ${r.previousHigh} at ${r.at.slice(11, 19)} UTC`)
                  .join('')}`
          } |`,
        ]
      : []),
    '',
    ...(c.totalViolations > 0
      ? [
          `First violations recorded (${Math.min(5, c.violationSamples?.length ?? 0)} of ${c.totalViolations}; the whole list of 20 in \`bench/results/chaos-long.json\`, what they mean in test/chaos/README.md, "Long mode"):`,
          '',
          ...(c.violationSamples ?? []).slice(0, 5).map((v) => `- ${v}`),
          '',
        ]
      : []),
  ].join('\n');
}

await main();
