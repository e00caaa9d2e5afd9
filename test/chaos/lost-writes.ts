/**
 * A standalone probe of the NATS cluster itself (not of ratebus): does a 3-node JetStream cluster hand out a
 * KV revision it had already acknowledged, after repeated node SIGKILLs? Two R3 buckets shaped like
 * `ratebus-lease` are written the way leases are — create, CAS-renew every 500 ms for 2–8 s, then delete or
 * abandon — one with a bucket TTL (keys abandoned by a holder expire by max_age, emptying the stream), one
 * without (an abandoned key is taken over by CAS after 5 s unchanged, as the fetchers do). Every
 * acknowledged revision is recorded per bucket; an acknowledgement at or below an earlier one is a reissue.
 *
 *   node test/dist/chaos/lost-writes.js [minutes=8] [killEverySeconds=16]
 *
 * Prints one line per reissue and a summary per bucket. Exit code 0 either way: this is a measurement.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { jetstream } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import { NatsCluster } from '@ratebus/testkit';

const LEASE_MS = 5_000;
const RENEW_MS = 500;
const DOWN_MS = 8_000;

interface Probe {
  readonly name: string;
  readonly ttl: boolean;
  kv: KV;
  acked: number;
  writes: number;
  reissued: number;
}

async function holder(p: Probe, stop: AbortSignal, t0: number): Promise<void> {
  const note = (rev: number) => {
    p.writes++;
    if (rev <= p.acked) {
      p.reissued++;
      console.log(`${p.name}: revision ${rev} acknowledged after ${p.acked}, at ${Date.now() - t0} ms`);
    }
    p.acked = Math.max(p.acked, rev);
  };
  const seen = { rev: 0, at: 0 };
  while (!stop.aborted) {
    let rev = 0;
    while (!stop.aborted && rev === 0) {
      try {
        const e = await p.kv.get('fetcher');
        if (e?.operation !== 'PUT') rev = await p.kv.create('fetcher', 'held');
        else if (!p.ttl) {
          if (seen.rev !== e.revision) Object.assign(seen, { rev: e.revision, at: Date.now() });
          else if (Date.now() - seen.at >= LEASE_MS) rev = await p.kv.update('fetcher', 'held', e.revision);
        }
      } catch {
        // lost race, timeout or no stream leader: look again
      }
      if (rev === 0) await sleep(RENEW_MS);
    }
    if (rev === 0) return;
    note(rev);
    const until = Date.now() + 2_000 + Math.random() * 6_000;
    while (!stop.aborted && Date.now() < until) {
      await sleep(RENEW_MS);
      try {
        rev = await p.kv.update('fetcher', 'held', rev);
        note(rev);
      } catch {
        break;
      }
    }
    // Half the holders release, the others vanish and leave the key to lapse.
    if (Math.random() < 0.5) await p.kv.delete('fetcher', { previousSeq: rev }).catch(() => undefined);
  }
}

async function main(): Promise<void> {
  const minutes = Number(process.argv[2] ?? 8);
  const killEveryMs = Number(process.argv[3] ?? 16) * 1_000;
  const cluster = await NatsCluster.start({ name: 'lost-writes' });
  const nc = await connect({ servers: cluster.urls, reconnectTimeWait: 250, maxReconnectAttempts: -1 });
  const kvm = new Kvm(jetstream(nc, { timeout: 2_000 }));
  const probes: Probe[] = [];
  for (const ttl of [true, false]) {
    const name = ttl ? 'lease-with-ttl' : 'lease-without-ttl';
    const kv = await kvm.create(name, { history: 1, replicas: 3, ...(ttl ? { ttl: LEASE_MS } : {}) });
    probes.push({ name, ttl, kv, acked: 0, writes: 0, reissued: 0 });
  }
  const t0 = Date.now();
  const stop = new AbortController();
  const holders = probes.map((p) => holder(p, stop.signal, t0));
  let kills = 0;
  while (Date.now() - t0 < minutes * 60_000) {
    await sleep(killEveryMs - DOWN_MS);
    const node = cluster.nodes[Math.floor(Math.random() * cluster.nodes.length)];
    if (!node) break;
    await node.kill('SIGKILL');
    kills++;
    await sleep(DOWN_MS);
    await node.restart();
  }
  stop.abort();
  await Promise.all(holders);
  for (const p of probes) {
    console.log(
      `${p.name}: ${kills} node kills, ${p.writes} acknowledged writes, ${p.reissued} revisions reissued`,
    );
  }
  await nc.close();
  await cluster.stop();
}

await main();
