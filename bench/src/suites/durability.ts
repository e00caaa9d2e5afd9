import { randomBytes } from 'node:crypto';
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import { NatsCluster, natsServerBinary, natsServerVersion } from '@ratebus/testkit';
import { Cleanup, fmt, type Summary, summarize } from '../propagation/util.js';
import type { Suite } from '../suite.js';

/** The JetStream `sync_interval` settings compared: the server's default and fsync on every write. */
const SETTINGS = [
  { label: 'default (fsync every 2 min)', syncInterval: undefined },
  { label: '`sync_interval: always`', syncInterval: 'always' },
] as const;

/** What ratebus writes, by size: an Agile document, a Checked record, a lease renewal (CAS update). */
const WRITES = [
  { label: 'rates document, 46 KiB (put)', bytes: 46 * 1024, cas: false },
  { label: 'checked record, 200 B (put)', bytes: 200, cas: false },
  { label: 'lease renewal, 200 B (CAS update)', bytes: 200, cas: true },
] as const;

interface Row {
  readonly setting: string;
  readonly write: string;
  readonly latencyMs: Summary;
  readonly writesPerSecond: number;
}

/**
 * Write latency of an R3 KV bucket on a 3-node cluster of the running nats-server (≥ 2.10), with JetStream's
 * default fsync interval and with `sync_interval: always`, for the three kinds of write ratebus makes. Writes
 * are sequential (each awaits its acknowledgement), as the fetcher's are; settings alternate over two rounds
 * so neither gets the warmer machine.
 */
export const durabilitySuite: Suite = async ({ quick, log }) => {
  const binary = natsServerBinary();
  const [major, minor, patch] = natsServerVersion(binary);
  if (major < 2 || (major === 2 && minor < 10))
    throw new Error(
      `the durability suite needs nats-server ≥ 2.10 (sync_interval); ${binary} is ${major}.${minor}.${patch}: set NATS_SERVER_BIN`,
    );
  const perRound = quick ? 40 : 400;
  const rounds = 2;
  const samples = new Map<string, number[]>();
  const elapsed = new Map<string, number>();
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? SETTINGS : [...SETTINGS].reverse();
    for (const setting of order) {
      const cleanup = new Cleanup();
      try {
        const cluster = await NatsCluster.start(
          setting.syncInterval ? { syncInterval: setting.syncInterval } : {},
        );
        cleanup.add('cluster', () => cluster.stop());
        const nc = await connect({ servers: cluster.urls });
        cleanup.add('connection', () => nc.close());
        const kv = await new Kvm(nc).create(`durability-${round}`, { replicas: 3, history: 1 });
        for (const write of WRITES) {
          const value = randomBytes(write.bytes / 2).toString('hex');
          const key = write.cas ? 'lease' : `k-${write.bytes}`;
          let revision = await kv.put(key, value);
          const id = `${setting.label}|${write.label}`;
          const times = samples.get(id) ?? [];
          const started = performance.now();
          for (let i = 0; i < perRound; i++) {
            const t0 = performance.now();
            revision = write.cas ? await kv.update(key, value, revision) : await kv.put(key, value);
            times.push(performance.now() - t0);
          }
          elapsed.set(id, (elapsed.get(id) ?? 0) + (performance.now() - started));
          samples.set(id, times);
        }
        log(`round ${round + 1}: ${setting.label} done`);
      } finally {
        await cleanup.run(log);
      }
    }
  }
  const rows: Row[] = [];
  for (const setting of SETTINGS)
    for (const write of WRITES) {
      const id = `${setting.label}|${write.label}`;
      const times = samples.get(id) ?? [];
      rows.push({
        setting: setting.label,
        write: write.label,
        latencyMs: summarize(times),
        writesPerSecond: times.length / ((elapsed.get(id) ?? 1) / 1000),
      });
    }
  const version = `${major}.${minor}.${patch}`;
  const markdown = [
    `A 3-node JetStream cluster of nats-server ${version} on loopback (the test kit's, one store directory per node on this machine's disk), an R3 KV bucket, one client writing sequentially: each write waits for its acknowledgement, as the fetcher's do. ${rounds} rounds of ${perRound} writes per kind and setting, a fresh cluster each time, the settings alternating. The fetcher writes a few documents and checked records per tariff per hour and renews its lease every 2 s, so what matters is the latency of one write, not throughput.`,
    '',
    '| JetStream fsync | write | writes | latency p50 / p95 / p99 / max (ms) | sequential writes/s |',
    '|---|---|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.setting} | ${r.write} | ${r.latencyMs.n} | ${fmt(r.latencyMs.p50, 2)} / ${fmt(r.latencyMs.p95, 2)} / ${fmt(r.latencyMs.p99, 2)} / ${fmt(r.latencyMs.max, 2)} | ${fmt(r.writesPerSecond, 0)} |`,
    ),
    '',
    'Why it matters: with the default, a node acknowledges a write it has not fsynced yet; when every node of the cluster loses power at once (three containers on one host do), writes acknowledged in the last two minutes can be lost — a lease term issued twice, a document going back. `services/nats/node-N.conf` set `sync_interval: always` (nats-server ≥ 2.10; services/nats/README.md "Durability").',
  ].join('\n');
  return {
    title: 'NATS durability: write latency with fsync on every write',
    markdown,
    data: { version, perRound, rounds, rows },
    command: 'NATS_SERVER_BIN=<nats-server ≥ 2.10> npm run bench -- --only durability',
  };
};
