import type { KV } from '@nats-io/kv';
import { LEASE_KEY, LeaseValueSchema, validate } from '@ratebus/schema';
import type { Pods } from './pods.js';
import { PODS } from './pods.js';
import type { Topology } from './topology.js';

const MINUTE = 60_000;
/** A PredBat-style pod asks 3 pages of unit rates and the standing charges per tariff, every 30 minutes. */
const NAIVE_REQUESTS_PER_POLL = 4;

const ukTime = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'Europe/London',
  day: '2-digit',
  month: 'short',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});
const ukShort = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'Europe/London',
  day: '2-digit',
  month: 'short',
  hour: '2-digit',
  minute: '2-digit',
});

export interface Leader {
  holder: string;
  term: number | null;
}

/** Who holds the lease (read with a role that may: inspector, or anonymous on an open server). */
export async function readLeader(lease: KV | null): Promise<Leader | null> {
  if (!lease) return null;
  const e = await lease.get(LEASE_KEY).catch(() => null);
  if (e?.operation !== 'PUT') return null;
  const v = validate(LeaseValueSchema, 'lease', e.json());
  return v.ok ? { holder: v.value.holder, term: v.value.term ?? null } : null;
}

/** Upstream requests the simulator has counted so far. */
export async function upstreamRequests(simUrl: string): Promise<number | null> {
  try {
    const res = await fetch(`${simUrl}/_sim/stats`);
    return ((await res.json()) as { total: number }).total;
  } catch {
    return null;
  }
}

/**
 * What `pods` pods like the demo's would have asked upstream on their own since `start` (simulated ms):
 * every pod-tariff polled at start and every 30 minutes, PredBat-style.
 */
export function naiveEstimate(startSim: number, nowSim: number, pods: number): number {
  const polls = 1 + Math.floor(Math.max(0, nowSim - startSim) / (30 * MINUTE));
  const tariffsPerPod = PODS.reduce((n, p) => n + p.tariffs.length, 0) / PODS.length;
  return Math.round(pods * tariffsPerPod * polls * NAIVE_REQUESTS_PER_POLL);
}

const pad = (s: string, n: number) => (s.length >= n ? s : s + ' '.repeat(n - s.length));
const age = (ms: number) => {
  const s = Math.max(0, Math.round(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
};

export interface Frame {
  nowSim: number;
  speed: number;
  natsDescription: string;
  leader: Leader | null;
  upstream: number | null;
  naive: number;
  naiveFleet: number;
  events: readonly string[];
  hint: string;
}

/** The status screen. */
export function render(f: Frame, topo: Topology, pods: Pods): string {
  const lines: string[] = [];
  lines.push(
    `ratebus demo · simulated ${ukTime.format(f.nowSim)} UK (×${f.speed}) · Agile D+1 is published at 16:00 UK`,
  );
  lines.push(`NATS: ${f.natsDescription}`);
  lines.push(`Octopus API: the simulator at ${topo.simUrl}`);
  lines.push('');
  for (const [i, slot] of topo.fetchers.entries()) {
    const head = i === 0 ? 'fetchers ' : '         ';
    const pid = slot.proc?.running ? `pid ${slot.proc.pid}` : 'not running';
    const role = !slot.proc?.running
      ? ''
      : f.leader?.holder === slot.id
        ? `★ leader${f.leader.term ? ` (term ${f.leader.term})` : ''}`
        : 'follower';
    lines.push(`${head} ${pad(slot.id, 10)} ${pad(pid, 12)} ${role}`);
  }
  const up = f.upstream === null ? '?' : String(f.upstream);
  lines.push(`upstream  ${up} requests made by ratebus, however many pods`);
  lines.push(
    `          ≈ ${f.naive} if these ${PODS.length} pods polled on their own (PredBat-style) · ≈ ${f.naiveFleet.toLocaleString('en-GB')} for a fleet of 1,000`,
  );
  lines.push('');
  for (const [i, spec] of PODS.entries()) {
    const client = pods.clients.get(spec.name);
    for (const [j, t] of spec.tariffs.entries()) {
      const head = i === 0 && j === 0 ? 'pods     ' : '         ';
      const name = j === 0 ? spec.name : '';
      const view = client?.get(t.product, t.tariff);
      const state = view
        ? `${pad(view.freshness, 8)} age ${pad(age(view.ageMs), 6)} rates through ${view.coversThrough ? `${ukShort.format(Date.parse(view.coversThrough))} UK` : 'open-ended'}`
        : 'waiting for the first document…';
      lines.push(`${head} ${pad(name, 6)} ${pad(`${t.product} / ${t.tariff}`, 52)} ${state}`);
    }
  }
  lines.push('');
  lines.push(
    `gateway   ${topo.gatewayUrl}/v1/products/AGILE-24-10-01/electricity-tariffs/E-1R-AGILE-24-10-01-C/standard-unit-rates/?page_size=3`,
  );
  const leaderSlot = topo.fetchers.find((s) => s.id === f.leader?.holder && s.proc?.running);
  if (leaderSlot?.proc)
    lines.push(
      `try       kill ${leaderSlot.proc.pid}   (from another terminal: kill the leader, watch the other take over)`,
    );
  lines.push(`          ${f.hint}`);
  lines.push('');
  lines.push('events');
  for (const e of f.events.slice(-8)) lines.push(`          ${e}`);
  lines.push('');
  lines.push('Ctrl-C stops everything.');
  return lines.join('\n');
}

export function eventTime(nowSim: number): string {
  return new Intl.DateTimeFormat('en-GB', {
    timeZone: 'Europe/London',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).format(nowSim);
}
