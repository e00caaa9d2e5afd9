import assert from 'node:assert/strict';
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig as loadFetcherConfig } from '@ratebus/fetcher';
import { loadConfig as loadGatewayConfig } from '@ratebus/gateway';
import { natsServerBinary } from '@ratebus/testkit';
import { parse } from 'yaml';
import { confForServer } from '../nats-security/roles.js';

/**
 * The docker compose deployment, checked statically: Debian's docker-compose 1.29 renders the file (variables
 * resolved, anchors merged) without a Docker engine, and we assert the topology on the result. Where a
 * service's own config loader is importable (fetcher, gateway) the rendered environment is fed to it, and the
 * NATS nodes' environment to services/nats/run.sh + `nats-server -t`.
 */

/** The repository root (this file runs from `test/dist/integration/compose/`). */
const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const COMPOSE_FILE = join(ROOT, 'docker-compose.yml');
const ENV_EXAMPLE = join(ROOT, '.env.example');
const DOCKERFILE = join(ROOT, 'Dockerfile');
const INSTALL_HINT = 'apt-get install -y docker-compose';

type Role = 'fetcher' | 'pod' | 'gateway' | 'lastresort' | 'inspector';
const ROLES: readonly Role[] = ['fetcher', 'pod', 'gateway', 'lastresort', 'inspector'];
const passwordVar = (r: Role) => `RATEBUS_${r.toUpperCase()}_PASSWORD`;
/** Distinct per role, and acceptable to run.sh, so a leak is visible in the rendered file. */
const PASSWORD: Record<Role, string> = {
  fetcher: 'composeFetcherPw_01',
  pod: 'composePodPw_000001',
  gateway: 'composeGatewayPw_01',
  lastresort: 'composeLastResort01',
  inspector: 'composeInspectorPw1',
};
const PASSWORD_ENV = Object.fromEntries(ROLES.map((r) => [passwordVar(r), PASSWORD[r]]));

const NATS_NODES = ['nats-1', 'nats-2', 'nats-3'];
const FETCHERS = ['fetcher-1', 'fetcher-2'];
const NATS_SERVERS = 'nats://nats-1:4222,nats://nats-2:4222,nats://nats-3:4222';

/** Which password variables each service may see; every service must be listed (a new one needs a decision). */
function allowedRoles(service: string): readonly Role[] {
  if (NATS_NODES.includes(service)) return ROLES;
  if (FETCHERS.includes(service)) return ['fetcher'];
  if (service === 'gateway') return ['gateway'];
  if (/^pod-\d+$/.test(service)) return ['pod'];
  if (service === 'octopus-sim') return [];
  assert.fail(`unexpected service ${service}: decide which credentials it gets and add it here`);
}

interface Service {
  image?: string;
  build?: { context?: string; args?: Record<string, string> };
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string | number | null>;
  healthcheck?: { test?: string[] | string; disable?: boolean };
  ports?: (string | { published?: string | number; target?: number; host_ip?: string })[];
  volumes?: (string | { type?: string; source?: string; target?: string; read_only?: boolean })[];
  depends_on?: Record<string, { condition?: string }> | string[];
  profiles?: string[];
}
interface Rendered {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

/** docker-compose with a clean environment: nothing inherited from the developer's shell but PATH/HOME. */
function compose(args: string[], env: Record<string, string>): SpawnSyncReturns<string> {
  const base: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
  if (process.env.HOME !== undefined) base.HOME = process.env.HOME;
  const r = spawnSync(
    'docker-compose',
    ['--project-directory', ROOT, '-f', COMPOSE_FILE, '--env-file', ENV_EXAMPLE, ...args],
    { cwd: ROOT, env: { ...base, ...env }, encoding: 'utf8', timeout: 60_000 },
  );
  if (r.error !== undefined) {
    const code = (r.error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      assert.fail(
        `docker-compose is not installed; it validates the compose file without a Docker engine: ${INSTALL_HINT}`,
      );
    }
    throw r.error;
  }
  return r;
}

function render(args: string[], env: Record<string, string>): Rendered {
  const r = compose([...args, 'config'], env);
  assert.equal(r.status, 0, `docker-compose ${args.join(' ')} config failed:\n${r.stderr}`);
  return parse(r.stdout) as Rendered;
}

function service(c: Rendered, name: string): Service {
  const s = c.services[name];
  assert.ok(s, `service ${name} is missing`);
  return s;
}

function env(s: Service): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(s.environment ?? {})) out[k] = v === null ? '' : String(v);
  return out;
}

/** Volumes as {source, target, readOnly}, from either the short (1.29) or the long (v2) syntax. */
function mounts(s: Service): { source: string; target: string; readOnly: boolean }[] {
  return (s.volumes ?? []).map((v) => {
    if (typeof v !== 'string') {
      return { source: v.source ?? '', target: v.target ?? '', readOnly: v.read_only === true };
    }
    const [source = '', target = '', mode = ''] = v.split(':');
    return { source, target, readOnly: mode.split(',').includes('ro') };
  });
}

function mountAt(s: Service, target: string) {
  const m = mounts(s).find((x) => x.target === target);
  assert.ok(m, `no volume mounted at ${target}`);
  return m;
}

/** Published ports as {hostIp, published, target}. */
function published(s: Service): { hostIp: string; published: string; target: string }[] {
  return (s.ports ?? []).map((p) => {
    if (typeof p !== 'string') {
      return {
        hostIp: p.host_ip ?? '',
        published: String(p.published ?? ''),
        target: String(p.target ?? ''),
      };
    }
    const parts = p.replace(/\/(tcp|udp)$/, '').split(':');
    // "target", "published:target" or "ip:published:target"
    const target = parts.pop() ?? '';
    const pub = parts.pop() ?? '';
    return { hostIp: parts.join(':'), published: pub, target };
  });
}

function dependsHealthy(s: Service, on: string[]) {
  const d = s.depends_on;
  assert.ok(d && !Array.isArray(d), 'depends_on must name conditions');
  for (const n of on) assert.equal(d[n]?.condition, 'service_healthy', `must wait for ${n} to be healthy`);
}

/** `KEY=value` lines of .env.example, in order, with whether a comment line precedes each. */
function envExample(): { name: string; value: string; commented: boolean }[] {
  const lines = readFileSync(ENV_EXAMPLE, 'utf8').split('\n');
  const out: { name: string; value: string; commented: boolean }[] = [];
  lines.forEach((line, i) => {
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m?.[1] === undefined) return;
    // a comment directly above, possibly above other documented variables of the same block
    let j = i - 1;
    while (j >= 0 && /^[A-Z][A-Z0-9_]*=/.test(lines[j] ?? '')) j--;
    out.push({ name: m[1], value: m[2] ?? '', commented: (lines[j] ?? '').startsWith('#') });
  });
  return out;
}

/** The commented "complete offline demo" lines of .env.example (`#   KEY=value`). */
function demoEnv(): Record<string, string> {
  const text = readFileSync(ENV_EXAMPLE, 'utf8');
  return Object.fromEntries(
    [...text.matchAll(/^#\s+([A-Z][A-Z0-9_]*)=(\S+)\s*$/gm)].map((m) => [m[1], m[2]]),
  );
}

describe('docker compose deployment (static: docker-compose config)', () => {
  let prod: Rendered;
  let sim: Rendered;
  let demo: Record<string, string>;

  before(() => {
    prod = render([], PASSWORD_ENV);
    demo = demoEnv();
    sim = render(['--profile', 'sim'], { ...PASSWORD_ENV, ...demo });
  });

  it('refuses to render while the passwords are as .env.example leaves them (empty)', () => {
    const r = compose(['config', '-q'], {});
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /RATEBUS_[A-Z]+_PASSWORD must be set in \.env/);
    for (const role of ROLES) {
      const line = envExample().find((v) => v.name === passwordVar(role));
      assert.equal(line?.value, '', `${passwordVar(role)} in .env.example must be an empty placeholder`);
    }
  });

  it('runs three NATS nodes with JetStream, the shared accounts and run.sh as the entrypoint', () => {
    const dataVolumes = new Set<string>();
    for (const [i, name] of NATS_NODES.entries()) {
      const s = service(prod, name);
      // the line the suites run on as "current" (test/compose/README.md, .ci/run)
      assert.match(s.image ?? '', /^nats:2\.15(\.\d+)?-alpine$/);
      assert.deepEqual(s.entrypoint, ['/bin/sh', '/etc/nats/run.sh']);
      assert.deepEqual(s.command, ['-c', `/etc/nats/node-${i + 1}.conf`]);
      const conf = mountAt(s, '/etc/nats');
      assert.equal(conf.source.replace(/\/$/, ''), join(ROOT, 'services/nats'));
      assert.ok(conf.readOnly, 'services/nats must be mounted read-only');
      // the mounted node file: its own name, JetStream in /data, the shared accounts
      const text = readFileSync(join(ROOT, 'services/nats', `node-${i + 1}.conf`), 'utf8').replace(
        /#.*$/gm,
        '',
      );
      assert.match(text, new RegExp(`server_name:\\s*${name}\\b`));
      assert.match(text, /jetstream\s*{[^}]*store_dir:\s*\/data/);
      assert.match(text, /^include accounts\.conf$/m);
      const data = mountAt(s, '/data');
      assert.ok(prod.volumes && data.source in prod.volumes, `${name}: /data must be a named volume`);
      dataVolumes.add(data.source);
      assert.deepEqual(env(s), PASSWORD_ENV, `${name}: exactly the five role passwords`);
    }
    assert.equal(dataVolumes.size, 3, 'one JetStream volume per node');
  });

  it('gives run.sh and nats-server a valid node config with the rendered environment', () => {
    for (const [i, name] of NATS_NODES.entries()) {
      const [, ...args] = service(prod, name).command ?? [];
      assert.deepEqual(args, [`/etc/nats/node-${i + 1}.conf`]);
      const r = spawnSync(
        'sh',
        [join(ROOT, 'services/nats/run.sh'), '-t', '-c', confForServer(`node-${i + 1}.conf`)],
        {
          env: {
            PATH: process.env.PATH ?? '',
            NATS_SERVER_BIN: natsServerBinary(),
            ...env(service(prod, name)),
          },
          encoding: 'utf8',
        },
      );
      assert.equal(r.status, 0, `${name}: ${r.stderr}${r.stdout}`);
    }
    // ...and run.sh refuses the .env.example placeholders, naming each variable
    const placeholders = Object.fromEntries(envExample().map((v) => [v.name, v.value]));
    const r = spawnSync('sh', [join(ROOT, 'services/nats/run.sh'), '-t', '-c', '/nonexistent.conf'], {
      env: { PATH: process.env.PATH ?? '', NATS_SERVER_BIN: natsServerBinary(), ...placeholders },
      encoding: 'utf8',
    });
    assert.equal(r.status, 78, r.stderr);
    for (const role of ROLES) assert.match(r.stderr, new RegExp(passwordVar(role)));
  });

  it('runs two fetchers with fetcher credentials, R3 buckets and a mounted config the fetcher accepts', () => {
    const ids = new Set<string>();
    for (const name of FETCHERS) {
      const s = service(prod, name);
      const e = env(s);
      assert.equal(e.NATS_URL, NATS_SERVERS);
      assert.equal(e.NATS_USER, 'fetcher');
      assert.equal(e.NATS_PASSWORD, PASSWORD.fetcher);
      assert.equal(e.RATEBUS_REPLICAS, '3');
      assert.equal(e.RATEBUS_CONFIG, '/config/ratebus.yaml');
      assert.equal(e.OCTOPUS_BASE_URL, 'https://api.octopus.energy', 'production uses the real API');
      assert.equal(e.OCTOPUS_SIM_CLOCK, '', 'the simulator clock is for demos only');
      ids.add(e.FETCHER_ID ?? '');
      const config = mountAt(s, '/config/ratebus.yaml');
      assert.equal(config.source, join(ROOT, 'deploy/ratebus.yaml'));
      assert.ok(config.readOnly);
      dependsHealthy(s, NATS_NODES);

      const loaded = loadFetcherConfig({ ...e, RATEBUS_CONFIG: config.source }, (p) =>
        readFileSync(p, 'utf8'),
      );
      assert.equal(loaded.replicas, 3);
      assert.deepEqual(loaded.nats.servers, NATS_SERVERS.split(','));
      assert.deepEqual(loaded.nats.auth, { kind: 'user', user: 'fetcher', password: PASSWORD.fetcher });
      assert.equal(loaded.metrics.host, '0.0.0.0');
      assert.ok(loaded.ratebus.tariffs.length > 0, 'deploy/ratebus.yaml lists tariffs');
      assert.match(
        JSON.stringify(s.healthcheck?.test),
        new RegExp(`127\\.0\\.0\\.1:${loaded.metrics.port}/readyz`),
      );
    }
    assert.equal(ids.size, 2, 'each fetcher has its own FETCHER_ID');
  });

  it('runs the gateway with gateway credentials, a mirror volume and a loopback-published port', () => {
    const s = service(prod, 'gateway');
    const e = env(s);
    const config = loadGatewayConfig(e);
    assert.deepEqual(config.nats.servers, NATS_SERVERS.split(','));
    assert.deepEqual(config.nats.auth, { kind: 'user', user: 'gateway', password: PASSWORD.gateway });
    assert.equal(config.host, '0.0.0.0', 'reachable from the published port');
    assert.equal(config.upstreamOrigin, 'https://api.octopus.energy');
    assert.ok(config.mirrorDir !== undefined && config.cacheDir !== undefined);
    assert.ok(mountAt(s, config.mirrorDir).source in (prod.volumes ?? {}), 'mirror on a named volume');
    mountAt(s, config.cacheDir);
    assert.deepEqual(published(s), [{ hostIp: '127.0.0.1', published: '8092', target: String(config.port) }]);
    assert.match(JSON.stringify(s.healthcheck?.test), new RegExp(`127\\.0\\.0\\.1:${config.port}/readyz`));
    dependsHealthy(s, NATS_NODES);
  });

  it('gives every service a healthcheck', () => {
    for (const c of [prod, sim]) {
      for (const [name, s] of Object.entries(c.services)) {
        const test = s.healthcheck?.test;
        assert.ok(test !== undefined && s.healthcheck?.disable !== true, `${name} has no healthcheck`);
        assert.notDeepEqual(test, ['NONE'], `${name} disables its healthcheck`);
      }
    }
  });

  it("gives no service another role's password", () => {
    for (const c of [prod, sim]) {
      for (const [name, s] of Object.entries(c.services)) {
        const text = JSON.stringify(s);
        const allowed = allowedRoles(name);
        for (const role of ROLES) {
          if (!allowed.includes(role)) {
            assert.ok(!text.includes(PASSWORD[role]), `${name} must not see the ${role} password`);
          }
        }
      }
    }
  });

  it('publishes ports on 127.0.0.1 only: NATS node 1, the gateway and (sim) the simulator', () => {
    const publishing = new Set<string>();
    for (const [name, s] of Object.entries(sim.services)) {
      for (const p of published(s)) {
        assert.equal(p.hostIp, '127.0.0.1', `${name} publishes ${p.published} beyond loopback`);
        publishing.add(name);
      }
    }
    assert.deepEqual([...publishing].sort(), ['gateway', 'nats-1', 'octopus-sim']);
    assert.deepEqual(published(service(prod, 'nats-1')), [
      { hostIp: '127.0.0.1', published: '4222', target: '4222' },
    ]);
  });

  it('keeps the simulator and the sample pods in profiles, and the documented sim block points at it', () => {
    for (const name of [...NATS_NODES, ...FETCHERS, 'gateway']) {
      assert.equal(service(prod, name).profiles, undefined, `${name} runs in every deployment`);
    }
    assert.deepEqual(service(prod, 'octopus-sim').profiles, ['sim']);
    const pods = Object.keys(prod.services).filter((n) => /^pod-\d+$/.test(n));
    assert.ok(pods.length >= 2, 'at least two sample pods');
    for (const name of pods) {
      const s = service(prod, name);
      assert.ok(s.profiles?.includes('sim'), `${name} is in the sim profile`);
      assert.equal(s.command?.[1], 'watch');
      assert.deepEqual(
        [env(s).NATS_URL, env(s).NATS_USER, env(s).NATS_PASSWORD],
        [NATS_SERVERS, 'pod', PASSWORD.pod],
      );
      dependsHealthy(s, NATS_NODES);
    }

    // The commented demo block of .env.example, applied: fetchers follow the simulator and its clock.
    assert.equal(demo.COMPOSE_PROFILES, 'sim');
    const simEnv = env(service(sim, 'octopus-sim'));
    const origin = `http://octopus-sim:${simEnv.PORT}`;
    assert.equal(demo.OCTOPUS_BASE_URL, origin);
    assert.equal(simEnv.SIM_PUBLIC_BASE_URL, origin, "the simulator's links use the name the fetchers know");
    assert.equal(simEnv.HOST, '0.0.0.0');
    assert.equal(simEnv.SIM_START, demo.SIM_START);
    for (const name of FETCHERS) {
      const e = env(service(sim, name));
      assert.equal(e.OCTOPUS_BASE_URL, origin);
      assert.equal(e.OCTOPUS_SIM_CLOCK, '1');
    }
    assert.equal(env(service(sim, 'gateway')).UPSTREAM_ORIGIN, origin);
  });

  it('starts every Node service from a dist main that the build produces', () => {
    const workspaces = (
      JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { workspaces: string[] }
    ).workspaces;
    const references = (
      JSON.parse(readFileSync(join(ROOT, 'tsconfig.json'), 'utf8')) as { references: { path: string }[] }
    ).references.map((r) => r.path);
    let nodeServices = 0;
    for (const [name, s] of Object.entries(sim.services)) {
      if (NATS_NODES.includes(name)) continue;
      nodeServices++;
      assert.equal(
        s.build?.context?.replace(/\/$/, ''),
        ROOT.replace(/\/$/, ''),
        `${name}: built from ./Dockerfile`,
      );
      assert.equal(s.image, service(sim, 'gateway').image, `${name}: the one shared image`);
      const main = s.command?.[0] ?? '';
      const m = /^services\/([a-z0-9-]+)\/dist\/src\/main\.js$/.exec(main);
      assert.ok(m?.[1] !== undefined, `${name}: command ${main} is not services/<x>/dist/src/main.js`);
      const pkg = `services/${m[1]}`;
      assert.ok(existsSync(join(ROOT, pkg, 'src/main.ts')), `${name}: ${pkg}/src/main.ts does not exist`);
      const ts = JSON.parse(readFileSync(join(ROOT, pkg, 'tsconfig.json'), 'utf8')) as {
        compilerOptions?: { rootDir?: string; outDir?: string };
      };
      assert.deepEqual([ts.compilerOptions?.rootDir, ts.compilerOptions?.outDir], ['.', 'dist'], pkg);
      assert.ok(references.includes(pkg), `${pkg} is not built by \`npm run build\` (root tsconfig.json)`);
      assert.ok(workspaces.includes(pkg), `${pkg} is not an npm workspace (root package.json)`);
    }
    assert.ok(nodeServices >= 6);

    // The image: node as the entrypoint, a non-root user, production dependencies only.
    const dockerfile = readFileSync(DOCKERFILE, 'utf8');
    assert.match(dockerfile, /^ENTRYPOINT \["node"\]$/m);
    assert.match(dockerfile, /^USER node$/m);
    assert.match(dockerfile, /^ENV NODE_ENV=production$/m);
    assert.match(dockerfile, /npm ci --omit=dev/);
    // Node.js 24 LTS by default, in the Dockerfile and in what compose passes (RATEBUS_NODE_IMAGE unset)
    assert.match(dockerfile, /^ARG NODE_IMAGE=node:24-bookworm-slim$/m);
    for (const [name, s] of Object.entries(sim.services)) {
      if (NATS_NODES.includes(name)) continue;
      assert.equal(s.build?.args?.NODE_IMAGE, 'node:24-bookworm-slim', `${name}: build arg NODE_IMAGE`);
    }
  });

  it('.env.example documents every variable the compose file reads', () => {
    const documented = envExample();
    for (const v of documented) assert.ok(v.commented, `${v.name} in .env.example has no comment`);
    const names = new Set(documented.map((v) => v.name));
    const raw = readFileSync(COMPOSE_FILE, 'utf8').replace(/^\s*#.*$/gm, '');
    const used = new Set([...raw.matchAll(/\$\{([A-Z][A-Z0-9_]*)/g)].map((m) => m[1] ?? ''));
    assert.ok(used.size > 10);
    for (const name of used)
      assert.ok(names.has(name), `${name} is used by docker-compose.yml but not in .env.example`);
  });
});
