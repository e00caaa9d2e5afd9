import { execFile, spawn } from 'node:child_process';
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { decodeRefreshReply } from '@ratebus/bus';
import { refreshBody, refreshUntilAnswered } from '@ratebus/fixtures';
import { BUCKETS, INBOX_PREFIXES, LEASE_KEY, rateKey, refreshSubject, tariffRef } from '@ratebus/schema';
import { check } from '@ratebus/testkit';
import { SIM_TARIFFS } from '../failover/fetchers.js';
import { Cleanup, fmt, type Summary, sleep, summarize } from '../propagation/util.js';
import type { Suite } from '../suite.js';

/** The compose fetchers' lease timings (deploy/ratebus.yaml: the defaults). */
const LEASE = { durationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 } as const;
const RETRY_JITTER = 0.2;
const PROBE_INTERVAL_MS = 25;
const LEASE_POLL_MS = 50;
/** `docker stop -t`: the compose file's stop_grace_period for fetchers. */
const STOP_GRACE_S = 30;

type Stop = 'docker kill' | 'docker stop';

interface Run {
  readonly from: string;
  readonly to: string;
  readonly electedMs: number;
  readonly firstRequestMs: number;
  /** How long the docker command itself took to return (kill: signal sent; stop: container exited). */
  readonly commandMs: number;
}

interface Row {
  readonly stop: Stop;
  readonly runs: Run[];
  readonly elected: Summary;
  readonly firstRequest: Summary;
  readonly command: Summary;
}

/** Settings from test/compose/run.sh's environment. */
function settings() {
  const need = (name: string) => {
    const v = process.env[name]?.trim();
    if (!v)
      throw new Error(
        `${name} is not set: run this suite through RATEBUS_COMPOSE_BENCH=full bash test/compose/run.sh`,
      );
    return v;
  };
  return {
    servers: need('RATEBUS_E2E_NATS_URL').split(','),
    simUrl: need('RATEBUS_E2E_SIM_URL').replace(/\/+$/, ''),
    podPassword: need('RATEBUS_POD_PASSWORD'),
    inspectorPassword: need('RATEBUS_INSPECTOR_PASSWORD'),
    fetchers: (process.env.RATEBUS_E2E_FETCHERS ?? 'fetcher-1,fetcher-2').split(','),
  };
}

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: 120_000 }, (error, stdout, stderr) => {
      if (error)
        reject(new Error(`${command} ${args.join(' ')}: ${error.message}\n${stderr}`, { cause: error }));
      else resolve(stdout.trim());
    });
  });
}

/** Runs a docker command to its end; resolves with the ms it took. */
function timed(args: string[]): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn('docker', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0
        ? resolve(performance.now() - started)
        : reject(new Error(`docker ${args.join(' ')}: ${err}`)),
    );
  });
}

async function healthy(id: string): Promise<boolean> {
  return (await run('docker', ['inspect', '-f', '{{.State.Health.Status}}', id])) === 'healthy';
}

interface Lease {
  holder: string;
  term: number;
}

async function readLease(nc: NatsConnection): Promise<() => Promise<Lease | undefined>> {
  const kv = await new Kvm(nc).open(BUCKETS.lease);
  return async () => {
    const e = await kv.get(LEASE_KEY);
    if (e?.operation !== 'PUT') return undefined;
    const v = JSON.parse(e.string()) as { holder: string; term?: number };
    return { holder: v.holder, term: v.term ?? e.revision };
  };
}

/** Wall-clock ms of the first upstream request after `since` by a fetcher other than `exclude`, or null. */
async function firstRequestAfter(simUrl: string, since: number, exclude: string): Promise<number | null> {
  const res = await fetch(`${simUrl}/_sim/stats`);
  const stats = (await res.json()) as { log: { at: string; caller: string }[] };
  const times = stats.log
    .filter((e) => /fetcher\/[^/]+$/.test(e.caller) && !e.caller.endsWith(`fetcher/${exclude}`))
    .map((e) => Date.parse(e.at))
    .filter((t) => t >= since);
  return times.length > 0 ? Math.min(...times) : null;
}

const s = (ms: number | null) => fmt(ms === null ? null : ms / 1000, 2);

/**
 * Failover across containers: the compose deployment of test/compose/run.sh (two fetcher containers, a
 * 3-node NATS cluster, the simulator). The leading fetcher's container is killed (`docker kill`, SIGKILL) or
 * stopped (`docker stop`, SIGTERM then SIGKILL after the grace period); the time runs from the moment the
 * docker command is started to the lease showing the other fetcher with a newer term, and to the first
 * upstream request by the other fetcher in the simulator's request log.
 */
export const failoverContainersSuite: Suite = async ({ quick, log }) => {
  const cfg = settings();
  const runs = quick ? 2 : 10;
  const cleanup = new Cleanup();
  const rows: Row[] = [];
  try {
    const inspector = await connect({
      servers: cfg.servers,
      user: 'inspector',
      pass: cfg.inspectorPassword,
      inboxPrefix: INBOX_PREFIXES.inspector,
      maxReconnectAttempts: -1,
    });
    cleanup.add('inspector', () => inspector.close());
    const pod = await connect({
      servers: cfg.servers,
      user: 'pod',
      pass: cfg.podPassword,
      maxReconnectAttempts: -1,
    });
    cleanup.add('pod', () => pod.close());
    const lease = await readLease(inspector);
    const ids = new Map<string, string>();
    for (const f of cfg.fetchers) ids.set(f, await run('docker-compose', ['ps', '-q', f]));
    const idOf = (f: string) => {
      const id = ids.get(f);
      if (!id) throw new Error(`no container for ${f}`);
      return id;
    };
    // The deployment keeps what earlier runs (and suites) fetched: a probe must be a tariff nobody holds
    // yet, or the new leader answers it from its held copy without asking upstream.
    const rates = await new Kvm(inspector).open(BUCKETS.rates);
    const used = new Set<string>();
    const freshTariff = async () => {
      for (const t of SIM_TARIFFS) {
        const key = rateKey(t.product, t.tariff);
        if (used.has(key)) continue;
        used.add(key);
        if (!(await rates.get(key))) return t;
      }
      throw new Error(
        `every simulator tariff is held already (${SIM_TARIFFS.length}): recreate the deployment`,
      );
    };

    for (const stop of ['docker kill', 'docker stop'] as const) {
      const done: Run[] = [];
      for (let i = 0; i < runs; i++) {
        // Both fetchers up and healthy; one leads and serves.
        await check(
          async () => (await Promise.all(cfg.fetchers.map((f) => healthy(idOf(f))))).every(Boolean),
          {
            name: 'both fetcher containers healthy',
            timeout: 120_000,
            interval: 500,
          },
        );
        const old = await check(lease, { name: 'a lease holder', timeout: 60_000, interval: 200 });
        const oldTerm = await (
          await refreshUntilAnswered(pod, await freshTariff(), {
            timeoutMs: 30_000,
            by: 'bench',
            intervalMs: 200,
          })
        ).term;
        await sleep(Math.random() * LEASE.retryPeriodMs * (1 + RETRY_JITTER));
        const startedAt = Date.now();
        const deadline = performance.now() + LEASE.durationMs * 3 + STOP_GRACE_S * 1000;
        const command =
          stop === 'docker kill'
            ? timed(['kill', idOf(old.holder)])
            : timed(['stop', '-t', String(STOP_GRACE_S), idOf(old.holder)]);
        // From the signal on: the lease (another holder with a newer term?) and the simulator's request log
        // (a request by another fetcher?), each polled until seen.
        let elected: { at: number; lease: Lease } | null = null;
        let first: number | null = null;
        const watchLease = (async () => {
          while (elected === null && performance.now() < deadline) {
            const l = await lease().catch(() => undefined);
            if (l && l.holder !== old.holder && l.term > Math.max(old.term, oldTerm))
              elected = { at: Date.now(), lease: l };
            else await sleep(LEASE_POLL_MS);
          }
        })();
        const watchLog = (async () => {
          while (first === null && performance.now() < deadline) {
            first = await firstRequestAfter(cfg.simUrl, startedAt, old.holder).catch(() => null);
            if (first === null) await sleep(200);
          }
        })();
        // The old leader may still answer the first probes (the signal lands ~0.2 s after the command
        // starts; SIGTERM first stops its responders): it then fetches the probe tariff, and the new leader
        // would answer that one from KV without asking upstream. So a probe answered by the old term is
        // replaced by another tariff nobody holds.
        let probe = await freshTariff();
        let replace = false;
        while (first === null && performance.now() < deadline) {
          if (replace) {
            probe = await freshTariff();
            replace = false;
          }
          const asked = probe;
          const body = refreshBody(asked, 'bench');
          pod.request(refreshSubject(asked.product, asked.tariff), body, { timeout: 2_000 }).then(
            (m) => {
              const reply = decodeRefreshReply(tariffRef(asked.product, asked.tariff), m);
              if (reply.ok && reply.document.term <= Math.max(old.term, oldTerm) && asked === probe)
                replace = true;
            },
            () => undefined,
          );
          await sleep(PROBE_INTERVAL_MS);
        }
        const commandMs = await command;
        await Promise.all([watchLease, watchLog]);
        const got = elected as { at: number; lease: Lease } | null;
        if (!got || first === null) throw new Error(`${stop} of ${old.holder}: no takeover seen in time`);
        done.push({
          from: old.holder,
          to: got.lease.holder,
          electedMs: got.at - startedAt,
          firstRequestMs: first - startedAt,
          commandMs,
        });
        log(
          `${stop} ${i + 1}/${runs}: ${old.holder} → ${got.lease.holder}, elected after ${got.at - startedAt} ms, first upstream request after ${first - startedAt} ms (the docker command took ${Math.round(commandMs)} ms)`,
        );
        await run('docker', ['start', idOf(old.holder)]);
      }
      rows.push({
        stop,
        runs: done,
        elected: summarize(done.map((r) => r.electedMs)),
        firstRequest: summarize(done.map((r) => r.firstRequestMs)),
        command: summarize(done.map((r) => r.commandMs)),
      });
    }
  } finally {
    await cleanup.run(log);
  }
  const killBound = LEASE.durationMs + 2 * LEASE.retryPeriodMs * (1 + RETRY_JITTER);
  const markdown = [
    `The compose deployment (\`docker-compose.yml\` with the \`sim\` profile, as \`test/compose/run.sh\` starts it: 3 NATS containers, 2 fetcher containers with the default lease ${LEASE.durationMs / 1000} s / ${LEASE.renewDeadlineMs / 1000} s / ${LEASE.retryPeriodMs / 1000} s, the gateway, the simulator). Each run: both fetchers healthy, the leader answers a refresh, a random pause of up to one jittered retry period, then the leader's container is stopped. From the start of the docker command on, a refresh request for a tariff no fetcher holds goes out every ${PROBE_INTERVAL_MS} ms (pod user; when the old leader still answers one — the signal lands ~0.2 s after the command starts — the probe moves to another tariff nobody holds), and the lease is read every ${LEASE_POLL_MS} ms (inspector user). "Elected": the lease shows the other fetcher with a newer term. "First upstream request": the simulator's request log, the first request by the other fetcher. The stopped container is started again before the next run.${quick ? ' Quick mode: 2 runs each.' : ''}`,
    '',
    '| leader stopped by | runs | new leader elected, p50 / p95 / max (s) | first upstream request, p50 / p95 / max (s) | the docker command took, p50 (s) | expected |',
    '|---|---:|---:|---:|---:|---|',
    ...rows.map(
      (r) =>
        `| \`${r.stop}\`${r.stop === 'docker stop' ? ` (SIGTERM, grace ${STOP_GRACE_S} s)` : ' (SIGKILL)'} | ${r.runs.length} | ${s(r.elected.p50)} / ${s(r.elected.p95)} / ${s(r.elected.max)} | ${s(r.firstRequest.p50)} / ${s(r.firstRequest.p95)} / ${s(r.firstRequest.max)} | ${s(r.command.p50)} | ${
          r.stop === 'docker kill'
            ? `≤ ${s(killBound)} s after the last renew, as between processes (section "Failover")`
            : `the lease is released on SIGTERM: the other fetcher takes it at its next read, ≤ ${s(LEASE.retryPeriodMs * (1 + RETRY_JITTER))} s`
        } |`,
    ),
  ].join('\n');
  return {
    title: 'Failover across containers: docker kill and docker stop of the leading fetcher',
    markdown,
    data: rows,
    command: 'RATEBUS_COMPOSE_BENCH=full bash test/compose/run.sh',
  };
};
