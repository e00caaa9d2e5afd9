import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createMetrics } from '@ratebus/fetcher';
import { GatewayMetrics } from '@ratebus/gateway';
import { parse } from 'yaml';
import { metricNames, selectors } from './promql.js';

/**
 * The alert rules and the dashboard: `promtool` checks and unit-tests the rules, and every PromQL expression
 * of the rules and of the Grafana dashboard may only name metrics (and match on labels) that the services'
 * own registries really register.
 */

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const RULES_DIR = join(ROOT, 'deploy', 'prometheus');
const DASHBOARD = join(ROOT, 'deploy', 'grafana', 'ratebus.json');
const INSTALL_HINT = 'apt-get install -y prometheus (Debian ships promtool in it)';
/** Labels Prometheus adds to every scraped series. */
const TARGET_LABELS = ['instance', 'job'];
/** The data source of every panel: the dashboard's `datasource` variable. */
const DATASOURCE_VAR = ['$', '{datasource}'].join('');

function promtool(args: string[]): { status: number | null; out: string } {
  const r = spawnSync('promtool', args, { cwd: RULES_DIR, encoding: 'utf8', timeout: 60_000 });
  if (r.error !== undefined) {
    if ((r.error as NodeJS.ErrnoException).code === 'ENOENT') {
      assert.fail(`promtool is not installed; it tests deploy/prometheus/rules.yml: ${INSTALL_HINT}`);
    }
    throw r.error;
  }
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** Sample names (histograms expand to _bucket/_sum/_count) → label names, from the real registries. */
async function registered(): Promise<Map<string, Set<string>>> {
  const registries = [createMetrics().registry, new GatewayMetrics({ defaultMetrics: true }).registry];
  const out = new Map<string, Set<string>>();
  for (const r of registries) {
    for (const m of await r.getMetricsAsJSON()) {
      const metric = r.getSingleMetric(m.name) as unknown as { labelNames?: string[] } | undefined;
      const labels = new Set([...(metric?.labelNames ?? []), ...TARGET_LABELS]);
      for (const v of m.values) for (const k of Object.keys(v.labels)) labels.add(k);
      const names =
        String(m.type) === 'histogram' ? ['_bucket', '_sum', '_count'].map((x) => `${m.name}${x}`) : [m.name];
      for (const n of names) {
        const set = out.get(n) ?? new Set<string>();
        for (const l of labels) set.add(l);
        if (String(m.type) === 'histogram' && n.endsWith('_bucket')) set.add('le');
        out.set(n, set);
      }
    }
  }
  return out;
}

interface Rules {
  groups: { name: string; rules: { alert?: string; record?: string; expr: string }[] }[];
}
interface Dashboard {
  uid: string;
  panels: { id: number; title: string; type: string; targets?: { expr: string }[] }[];
}

function rulesExprs(): { where: string; expr: string }[] {
  const rules = parse(readFileSync(join(RULES_DIR, 'rules.yml'), 'utf8')) as Rules;
  return rules.groups.flatMap((g) =>
    g.rules.map((r) => ({ where: `rule ${r.alert ?? r.record}`, expr: r.expr })),
  );
}

function dashboardExprs(): { where: string; expr: string }[] {
  const d = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
  return d.panels.flatMap((p) =>
    (p.targets ?? []).map((t) => ({ where: `panel "${p.title}"`, expr: t.expr })),
  );
}

describe('Alert rules and dashboard', function () {
  this.timeout(60_000);

  it('promtool accepts the rules and their unit tests pass', () => {
    const checked = promtool(['check', 'rules', 'rules.yml']);
    assert.equal(checked.status, 0, checked.out);
    const tested = promtool(['test', 'rules', 'rules.test.yml']);
    assert.equal(tested.status, 0, tested.out);
    assert.match(tested.out, /SUCCESS/);
  });

  it('has the alerts an operator needs', () => {
    const names = rulesExprs().map((r) => r.where);
    for (const a of [
      'RatebusNoLeader',
      'RatebusTariffStale',
      'RatebusAgileDayAheadMissing',
      'RatebusUpstreamErrors',
      'RatebusUpstreamBudgetExhausted',
      'RatebusPodsRejectingMessages',
    ]) {
      assert.ok(names.includes(`rule ${a}`), `alert ${a}`);
    }
  });

  it('reads PromQL well enough to tell metric names from functions, labels and numbers', () => {
    assert.deepEqual(
      metricNames(
        'sum by (le, route) (rate(x_bucket{route=~"a|b"}[5m])) / on (instance) y > 35 * 60 and 1e3',
      ),
      ['x_bucket', 'y'],
    );
    assert.deepEqual(metricNames('(max(ratebus_leader) or vector(0)) < 1'), ['ratebus_leader']);
    assert.deepEqual(selectors('a{product=~"AGILE-.*", tariff!=""} + b'), [
      { metric: 'a', labels: ['product', 'tariff'] },
    ]);
  });

  it('every expression of the rules and of the dashboard names only metrics and labels the services register', async () => {
    const known = await registered();
    assert.ok(
      known.has('ratebus_tariff_seconds_since_confirmation') && known.has('ratebus_client_rebased_total'),
    );
    const exprs = [...rulesExprs(), ...dashboardExprs()];
    assert.ok(exprs.length > 20, 'the dashboard has panels');
    const problems: string[] = [];
    for (const { where, expr } of exprs) {
      const names = metricNames(expr);
      if (names.length === 0) problems.push(`${where}: names no metric: ${expr}`);
      for (const n of names) if (!known.has(n)) problems.push(`${where}: unknown metric ${n}`);
      for (const s of selectors(expr)) {
        for (const l of s.labels) {
          if (known.has(s.metric) && !known.get(s.metric)?.has(l)) {
            problems.push(`${where}: ${s.metric} has no label ${l}`);
          }
        }
      }
    }
    assert.deepEqual(problems, []);
  });

  it('the dashboard is a Grafana dashboard with unique panel ids and a selectable Prometheus data source', () => {
    const d = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard & {
      templating: { list: { name: string; type: string; query: string }[] };
    };
    assert.equal(d.uid, 'ratebus');
    const ids = d.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'unique panel ids');
    assert.ok(d.templating.list.some((v) => v.name === 'datasource' && v.query === 'prometheus'));
    const text = readFileSync(DASHBOARD, 'utf8');
    const uids = [...text.matchAll(/"uid": "([^"]*)"/g)].map((m) => m[1]);
    assert.ok(
      uids.every((u) => u === 'ratebus' || u === DATASOURCE_VAR),
      'no hard-coded data source uid',
    );
  });
});
