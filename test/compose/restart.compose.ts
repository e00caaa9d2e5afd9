import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { BUCKETS, type RatesDocument, rateKey, type TariffRef } from '@ratebus/schema';
import { check } from '@ratebus/testkit';
import { currentLeader, openKv, scheduledWaitMs, storedDoc } from '../e2e/bus.js';
import { Topology } from '../e2e/topology.js';

/**
 * Compose only (test/compose/run.sh): the whole stack goes down and comes back with its volumes. While
 * NATS and the fetchers are gone, the pods and the gateway keep serving what they hold; after
 * `docker-compose down` + `up` (containers recreated, named volumes kept) every document is still stored
 * at the same or a later revision, a new term leads, the gateway serves again from its persisted copy, and
 * the pods converge on the stored documents.
 */

/** The repository root (this file runs from `test/dist/compose/`); COMPOSE_FILE paths are relative to it. */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const STACK_TIMEOUT_MS = 180_000;

function compose(...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('docker-compose', args, { cwd: ROOT, timeout: STACK_TIMEOUT_MS }, (error, stdout, stderr) => {
      if (error)
        reject(new Error(`docker-compose ${args.join(' ')}: ${error.message}\n${stderr}`, { cause: error }));
      else resolve(stdout);
    });
  });
}

/** Every container of the project running, and healthy where it has a healthcheck. */
async function stackHealthy(): Promise<boolean> {
  const ids = (await compose('ps', '-q')).split('\n').filter(Boolean);
  if (ids.length === 0) return false;
  const states = await new Promise<string>((resolve, reject) => {
    execFile(
      'docker',
      [
        'inspect',
        '-f',
        '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}',
        ...ids,
      ],
      (error, stdout) => (error ? reject(error) : resolve(stdout)),
    );
  });
  return states
    .trim()
    .split('\n')
    .every((s) => /^running (healthy|none)$/.test(s));
}

describe('compose: a restart of the whole stack with its volumes', function () {
  this.timeout(600_000);
  let topo: Topology;

  before(async () => {
    if (!process.env.RATEBUS_E2E_NATS_URL) {
      throw new Error('compose only: run through test/compose/run.sh (RATEBUS_E2E_NATS_URL unset)');
    }
    topo = await Topology.start({ label: 'compose-restart', cliPod: false });
  });
  afterEach(async function () {
    if (this.currentTest?.state === 'failed') console.log(await compose('logs', '--no-color', '--tail=30'));
  });
  after(async () => {
    await topo?.stop();
  });

  /** Every configured tariff's stored document (inspector user), once all are there. */
  async function storedDocs(rates: KV): Promise<Map<TariffRef, { doc: RatesDocument; revision: number }>> {
    const out = new Map<TariffRef, { doc: RatesDocument; revision: number }>();
    for (const t of topo.tariffs) {
      const doc = await storedDoc(rates, t);
      const entry = await rates.get(rateKey(t.product, t.tariff));
      if (!doc || !entry) throw new Error(`${t.tariff} not in ${BUCKETS.rates} yet`);
      out.set(t, { doc, revision: entry.revision });
    }
    return out;
  }

  function ratesPath(t: TariffRef): string {
    return `/v1/products/${t.product}/electricity-tariffs/${t.tariff}/standard-unit-rates/`;
  }

  it('serves throughout the outage, and loses nothing across down and up', async () => {
    let inspector: NatsConnection = await topo.connect('inspector');
    let rates = await openKv(inspector, BUCKETS.rates);
    // Before: every tariff stored, every pod holding it; the gateway's bare-URL answers.
    const before = await check(
      async () => {
        const docs = await storedDocs(rates);
        for (const [t, { doc }] of docs)
          for (const [i, pod] of topo.pods.entries())
            if (pod.get(t.product, t.tariff)?.document.contentHash !== doc.contentHash)
              throw new Error(`pod ${i + 1} does not hold ${t.tariff} yet`);
        return docs;
      },
      { timeout: scheduledWaitMs(60_000), interval: 500, name: 'pods converge before the restart' },
    );
    const oldLeader = await currentLeader(await openKv(inspector, BUCKETS.lease));
    assert.ok(oldLeader, 'a fetcher leads before the restart');
    const gatewayBefore = new Map<TariffRef, string>();
    for (const t of topo.tariffs) {
      const res = await fetch(`${topo.gatewayUrl}${ratesPath(t)}`);
      assert.equal(res.status, 200, `gateway ${t.tariff}`);
      gatewayBefore.set(t, await res.text());
    }
    const mirrorBefore = readdirSync(join(topo.mirrorDir, 'shared', 'tariffs')).sort();
    for (const t of topo.tariffs)
      assert.ok(mirrorBefore.includes(`${t.product}_${t.tariff}.yaml`), `${t.tariff} is mirrored`);
    await inspector.close();

    // The data plane goes: all three NATS nodes and both fetchers at once.
    await compose('stop', '-t', '20', 'fetcher-1', 'fetcher-2', 'nats-1', 'nats-2', 'nats-3');
    for (const [t, { doc }] of before) {
      for (const [i, pod] of topo.pods.entries()) {
        const view = pod.get(t.product, t.tariff);
        assert.equal(view?.document.contentHash, doc.contentHash, `pod ${i + 1} still serves ${t.tariff}`);
      }
      const res = await fetch(`${topo.gatewayUrl}${ratesPath(t)}`);
      assert.equal(res.status, 200, `the gateway still serves ${t.tariff} with NATS down`);
      assert.ok(res.headers.get('x-ratebus-freshness'), 'labelled with its freshness');
      assert.equal(await res.text(), gatewayBefore.get(t), `the same ${t.tariff} bytes as before`);
    }

    // Everything down (containers removed, named volumes and the mirror kept), then up again.
    await compose('down', '-t', '20');
    for (const [t, { doc }] of before) {
      const view = topo.pods[0]?.get(t.product, t.tariff);
      assert.equal(view?.document.contentHash, doc.contentHash, `pods serve ${t.tariff} with the stack down`);
    }
    await compose('up', '-d', '--no-build');
    await check(stackHealthy, {
      timeout: STACK_TIMEOUT_MS,
      interval: 1_000,
      name: 'every service healthy again',
    });

    inspector = await topo.connect('inspector');
    rates = await openKv(inspector, BUCKETS.rates);
    const after = await storedDocs(rates);
    for (const [t, { doc, revision }] of before) {
      const now = after.get(t);
      assert.ok(now, `${t.tariff} is still stored`);
      assert.ok(now.revision >= revision, `${t.tariff}: revision ${now.revision} is not below ${revision}`);
      if (now.revision === revision) assert.equal(now.doc.contentHash, doc.contentHash);
    }
    const lease = await openKv(inspector, BUCKETS.lease);
    const leader = await check(() => currentLeader(lease), {
      timeout: 60_000,
      interval: 500,
      name: 'a leader after the restart',
    });
    assert.ok(leader.term > oldLeader.term, `term ${leader.term} follows ${oldLeader.term}`);
    // The gateway answers from its persisted copy or NATS, and the pods converge on what is stored.
    for (const t of topo.tariffs) {
      const res = await check(
        async () => {
          const r = await fetch(`${topo.gatewayUrl}${ratesPath(t)}`);
          if (r.status !== 200) throw new Error(`gateway answered ${r.status}`);
          return r;
        },
        { timeout: 60_000, name: `gateway serves ${t.tariff} again` },
      );
      const body = await res.text();
      const stored = after.get(t);
      if (stored?.revision === before.get(t)?.revision) assert.equal(body, gatewayBefore.get(t));
    }
    await check(
      async () => {
        const docs = await storedDocs(rates);
        for (const [t, { doc }] of docs)
          for (const [i, pod] of topo.pods.entries())
            if (pod.get(t.product, t.tariff)?.document.contentHash !== doc.contentHash)
              throw new Error(`pod ${i + 1} does not hold the stored ${t.tariff}`);
        return true;
      },
      { timeout: 60_000, interval: 500, name: 'pods converge after the restart' },
    );
    assert.deepEqual(readdirSync(join(topo.mirrorDir, 'shared', 'tariffs')).sort(), mirrorBefore);
    for (const f of mirrorBefore)
      assert.ok(readFileSync(join(topo.mirrorDir, 'shared', 'tariffs', f)).length > 0);
  });
});
