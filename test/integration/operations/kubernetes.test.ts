import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createMetrics,
  ENV_VARS as FETCHER_ENV_VARS,
  LIMIT_ENV_VARS,
  loadConfig as loadFetcherConfig,
  startProbesServer,
} from '@ratebus/fetcher';
import { ENV_VARS as GATEWAY_ENV_VARS, loadConfig as loadGatewayConfig, matchRoute } from '@ratebus/gateway';
import { parseAllDocuments, parse as parseYaml } from 'yaml';

/**
 * The Kubernetes manifests (deploy/kubernetes), read as kustomize would: every resource of
 * kustomization.yaml parsed, then checked — names, replicas, the disruption budget, probes that point at
 * endpoints the services really serve on ports they really listen on, the security context, credentials per
 * role from Secrets, every environment variable a service reads either set or deliberately left at its
 * default (the lists come from the services' own config loaders), and the NATS Helm values against
 * services/nats/accounts.conf.
 */

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const DIR = join(ROOT, 'deploy', 'kubernetes');

/** Variables a manifest may leave unset, and why. A variable a loader starts reading needs a decision here. */
const LEFT_DEFAULT: Record<'fetcher' | 'gateway', Record<string, string>> = {
  fetcher: {
    NATS_CREDS: 'user and password from the Secret instead',
    NATS_TOKEN: 'user and password from the Secret instead',
    OCTOPUS_SIM_CLOCK: 'demos and benchmarks only',
    ...Object.fromEntries(
      Object.keys(LIMIT_ENV_VARS).map((v) => [v, "the limits come from the ConfigMap's file"]),
    ),
  },
  gateway: {
    NATS_CREDS: 'user and password from the Secret instead',
    NATS_TOKEN: 'user and password from the Secret instead',
    OCTOPUS_SIM_CLOCK: 'demos and benchmarks only',
    PREDBAT_TARIFFS: "discovered from PredBat's own .meta files in the shared cache",
    PREDBAT_SCAN_INTERVAL_MS: 'the default 30 s is well inside PredBat’s 10-minute re-read',
    PREDBAT_FLUX_IMPORT_PRODUCT: 'the default FLUX-IMPORT product',
    SYNC: "the default tariffs: a sidecar holds only its pod's tariffs",
    RESYNC_INTERVAL_MS:
      "the client's default confirmation poll (60 s ± 25 %): a real clock, not a sped-up one",
  },
};

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    secretKeyRef?: { name: string; key: string };
    fieldRef?: { fieldPath: string };
  };
}
interface Probe {
  httpGet?: { path: string; port: string | number };
}
interface Container {
  name: string;
  image: string;
  args?: string[];
  restartPolicy?: string;
  ports?: { name?: string; containerPort: number }[];
  env?: EnvVar[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: {
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    capabilities?: { drop?: string[] };
  };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}
interface PodSpec {
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
  initContainers?: Container[];
  containers: Container[];
  volumes?: { name: string; configMap?: { name: string }; emptyDir?: unknown }[];
  terminationGracePeriodSeconds?: number;
}
interface Resource {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec?: {
    replicas?: number;
    minAvailable?: number;
    selector?: { matchLabels?: Record<string, string> };
    template?: { metadata: { labels: Record<string, string> }; spec: PodSpec };
    volumeClaimTemplates?: { metadata: { name: string } }[];
  };
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

function resources(): Resource[] {
  const k = parseYaml(readFileSync(join(DIR, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
  return k.resources.flatMap((file) =>
    parseAllDocuments(readFileSync(join(DIR, file), 'utf8')).map((d) => {
      assert.deepEqual(d.errors, [], `${file} parses`);
      return d.toJS() as Resource;
    }),
  );
}

function find(all: Resource[], kind: string, name: string): Resource {
  const r = all.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(r, `${kind} ${name}`);
  return r;
}

function container(r: Resource, name: string): Container {
  const spec = r.spec?.template?.spec;
  const c = [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])].find((x) => x.name === name);
  assert.ok(c, `container ${name} in ${r.metadata.name}`);
  return c;
}

/** The container's environment as a process would see it: Secrets and the downward API resolved. */
function envOf(all: Resource[], c: Container, podName: string, password: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of c.env ?? []) {
    if (e.value !== undefined) out[e.name] = e.value;
    else if (e.valueFrom?.secretKeyRef) {
      const ref = e.valueFrom.secretKeyRef;
      const secret = find(all, 'Secret', ref.name);
      assert.ok(ref.key in (secret.stringData ?? {}), `${ref.name} has a key ${ref.key}`);
      // Placeholders are empty on purpose; a real one stands in.
      out[e.name] = ref.key === 'password' ? password : (secret.stringData?.[ref.key] ?? '');
    } else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.name') out[e.name] = podName;
    else assert.fail(`${c.name}: unsupported env source for ${e.name}`);
  }
  return out;
}

function checkSecurity(r: Resource, c: Container, readOnlyRoot = true): void {
  const pod = r.spec?.template?.spec;
  assert.equal(pod?.securityContext?.runAsNonRoot, true, `${r.metadata.name}: runAsNonRoot`);
  assert.ok((pod?.securityContext?.runAsUser ?? 0) > 0, `${r.metadata.name}: a non-root uid`);
  assert.equal(c.securityContext?.allowPrivilegeEscalation, false, `${c.name}: no privilege escalation`);
  assert.deepEqual(c.securityContext?.capabilities?.drop, ['ALL'], `${c.name}: drops all capabilities`);
  if (readOnlyRoot)
    assert.equal(c.securityContext?.readOnlyRootFilesystem, true, `${c.name}: read-only root`);
  assert.ok(c.resources?.requests?.cpu && c.resources.requests.memory, `${c.name}: requests`);
  assert.ok(c.resources?.limits?.memory, `${c.name}: a memory limit`);
}

/** The port number a probe targets (a name resolves through the container's ports). */
function probePort(c: Container, p: Probe): number {
  const port = p.httpGet?.port;
  if (typeof port === 'number') return port;
  const named = c.ports?.find((x) => x.name === port);
  assert.ok(named, `${c.name}: probe port ${String(port)} is a declared port`);
  return named.containerPort;
}

function checkEnvCoverage(
  service: 'fetcher' | 'gateway',
  env: Record<string, string>,
  reads: readonly string[],
) {
  for (const name of Object.keys(env))
    assert.ok(reads.includes(name), `${service}: ${name} is not read by the service`);
  const missing = reads.filter((v) => !(v in env) && !(v in LEFT_DEFAULT[service]));
  assert.deepEqual(missing, [], `${service}: variables neither set nor deliberately left at their default`);
  for (const v of Object.keys(LEFT_DEFAULT[service])) {
    assert.ok(reads.includes(v), `${service}: LEFT_DEFAULT names ${v}, which the service does not read`);
  }
}

describe('Kubernetes manifests (deploy/kubernetes)', () => {
  const all = resources();
  const PASSWORD = 'k8sTestPassword_0001';

  it('lists its resources, each with a kind, a name and no namespace of its own (kustomize sets it)', () => {
    const k = parseYaml(readFileSync(join(DIR, 'kustomization.yaml'), 'utf8')) as { namespace: string };
    assert.equal(k.namespace, 'ratebus');
    for (const r of all) {
      assert.ok(r.apiVersion && r.kind && r.metadata?.name, JSON.stringify(r).slice(0, 120));
      assert.equal(
        (r.metadata as { namespace?: string }).namespace,
        undefined,
        `${r.kind} ${r.metadata.name}`,
      );
    }
    const names = all.map((r) => `${r.kind}/${r.metadata.name}`);
    assert.equal(new Set(names).size, names.length, 'unique names');
  });

  it('fetchers: 2 replicas, a disruption budget, probes on the real endpoints, locked down', async () => {
    const d = find(all, 'Deployment', 'ratebus-fetcher');
    assert.ok((d.spec?.replicas ?? 0) >= 2);
    const labels = d.spec?.selector?.matchLabels ?? {};
    assert.deepEqual(d.spec?.template?.metadata.labels, { ...d.spec?.template?.metadata.labels, ...labels });
    const pdb = find(all, 'PodDisruptionBudget', 'ratebus-fetcher');
    assert.equal(pdb.apiVersion, 'policy/v1');
    assert.deepEqual(pdb.spec?.selector?.matchLabels, labels);
    assert.ok((pdb.spec?.minAvailable ?? 0) >= 1 && (pdb.spec?.minAvailable ?? 0) < (d.spec?.replicas ?? 0));
    const c = container(d, 'fetcher');
    assert.deepEqual(c.args, ['services/fetcher/dist/src/main.js']);
    checkSecurity(d, c);

    // The environment loads with the fetcher's own loader; the config file is the ConfigMap's.
    const env = envOf(all, c, 'ratebus-fetcher-7d9f-abcde', PASSWORD);
    checkEnvCoverage('fetcher', env, FETCHER_ENV_VARS);
    const cm = find(all, 'ConfigMap', 'ratebus-fetcher-config');
    const mount = c.volumeMounts?.find((m) => env.RATEBUS_CONFIG?.startsWith(`${m.mountPath}/`));
    assert.ok(mount?.readOnly, 'RATEBUS_CONFIG is on a read-only mount');
    const volume = d.spec?.template?.spec.volumes?.find((v) => v.name === mount.name);
    assert.equal(volume?.configMap?.name, cm.metadata.name);
    const file = env.RATEBUS_CONFIG?.slice(mount.mountPath.length + 1) ?? '';
    const config = loadFetcherConfig(env, (p) => {
      assert.equal(p, env.RATEBUS_CONFIG);
      const text = cm.data?.[file];
      assert.ok(text !== undefined, `ConfigMap key ${file}`);
      return text;
    });
    assert.deepEqual(config.nats.auth, { kind: 'user', user: 'fetcher', password: PASSWORD });
    assert.equal(config.replicas, 3);
    assert.equal(config.fetcherId, 'ratebus-fetcher-7d9f-abcde');
    assert.equal(config.metrics.host, '0.0.0.0', 'probes come from the kubelet, not loopback');
    assert.ok(config.ratebus.tariffs.length > 0);

    // Probes: on the port the fetcher listens on, at paths its HTTP server answers (not 404).
    assert.ok(c.livenessProbe && c.readinessProbe, 'liveness and readiness probes');
    assert.equal(c.livenessProbe.httpGet?.path, '/livez', 'liveness never looks at NATS');
    assert.equal(c.readinessProbe.httpGet?.path, '/readyz');
    const http = await startProbesServer({
      port: 0,
      registry: createMetrics({ defaultMetrics: false }).registry,
      live: () => ({ ok: true, detail: {} }),
      ready: () => ({ ok: false, detail: {} }),
    });
    try {
      for (const p of [c.livenessProbe, c.readinessProbe, c.startupProbe]) {
        if (!p) continue;
        assert.equal(probePort(c, p), config.metrics.port);
        const status = (await fetch(`http://127.0.0.1:${http.port}${p.httpGet?.path}`)).status;
        assert.ok(status === 200 || status === 503, `${p.httpGet?.path} answers ${status}`);
      }
    } finally {
      await http.close();
    }
  });

  it('PredBat pod: the gateway sidecar shares the cache volume, probes its liveness, has the gateway credentials', () => {
    const s = find(all, 'StatefulSet', 'predbat');
    const gw = container(s, 'ratebus-gateway');
    const predbat = container(s, 'predbat');
    assert.equal(gw.restartPolicy, 'Always', 'a native sidecar');
    assert.deepEqual(gw.args, ['services/gateway/dist/src/main.js']);
    checkSecurity(s, gw);
    checkSecurity(s, predbat, false);

    const env = envOf(all, gw, 'predbat-0', PASSWORD);
    checkEnvCoverage('gateway', env, GATEWAY_ENV_VARS);
    const config = loadGatewayConfig(env);
    assert.deepEqual(config.nats.auth, { kind: 'user', user: 'gateway', password: PASSWORD });
    const gwSecret = gw.env?.find((e) => e.name === 'NATS_PASSWORD')?.valueFrom?.secretKeyRef?.name;
    assert.equal(gwSecret, 'ratebus-nats-gateway', 'the gateway role, not the fetcher one');

    // The mirror directory is a volume PredBat mounts too.
    const mirror = gw.volumeMounts?.find((m) => m.mountPath === config.mirrorDir);
    assert.ok(mirror, 'MIRROR_DIR is a mounted volume');
    assert.ok(
      predbat.volumeMounts?.some((m) => m.name === mirror.name),
      'PredBat mounts the same volume',
    );
    // The persisted copy survives restarts: a volume claim, not the read-only root.
    const state = gw.volumeMounts?.find((m) => m.mountPath === config.cacheDir);
    assert.ok(state && s.spec?.volumeClaimTemplates?.some((v) => v.metadata.name === state.name));

    assert.ok(gw.livenessProbe, 'liveness probe');
    assert.equal(gw.readinessProbe, undefined, 'no readiness probe: a NATS outage must not unready PredBat');
    for (const p of [gw.livenessProbe, gw.startupProbe]) {
      if (!p) continue;
      assert.equal(probePort(gw, p), config.port);
      assert.equal(
        matchRoute(p.httpGet?.path ?? '').kind,
        'livez',
        `${p.httpGet?.path} is the liveness route`,
      );
    }
  });

  it('Secrets: one per role, each workload only its own; passwords are placeholders, never committed', () => {
    for (const role of ['fetcher', 'gateway', 'pod', 'inspector']) {
      const s = find(all, 'Secret', `ratebus-nats-${role}`);
      assert.equal(s.stringData?.user, role);
      assert.equal(s.stringData?.password, '', `${role}: no real password in git`);
    }
    const server = find(all, 'Secret', 'ratebus-nats-passwords');
    for (const v of Object.values(server.stringData ?? {})) assert.equal(v, '');
    const refs = (r: Resource) =>
      [
        ...(r.spec?.template?.spec.initContainers ?? []),
        ...(r.spec?.template?.spec.containers ?? []),
      ].flatMap((c) => (c.env ?? []).flatMap((e) => e.valueFrom?.secretKeyRef?.name ?? []));
    assert.deepEqual(
      new Set(refs(find(all, 'Deployment', 'ratebus-fetcher'))),
      new Set(['ratebus-nats-fetcher']),
    );
    assert.deepEqual(new Set(refs(find(all, 'StatefulSet', 'predbat'))), new Set(['ratebus-nats-gateway']));
  });

  it('NATS Helm values: a 3-node JetStream cluster with exactly the users and permissions of accounts.conf', () => {
    const values = parseYaml(readFileSync(join(DIR, 'nats-values.yaml'), 'utf8')) as NatsValues;
    assert.equal(values.config.cluster.enabled, true);
    assert.equal(values.config.cluster.replicas, 3);
    assert.equal(values.config.jetstream.enabled, true);
    assert.equal(values.config.jetstream.fileStore.enabled, true);
    const conf = accountsConf(readFileSync(join(ROOT, 'services', 'nats', 'accounts.conf'), 'utf8'));
    const account = values.config.merge.accounts.RATEBUS;
    assert.deepEqual(account.jetstream, conf.jetstream, 'the account JetStream limits of accounts.conf');
    assert.deepEqual(account.limits, conf.limits, 'the account limits of accounts.conf');
    for (const [k, v] of Object.entries(conf.server)) assert.equal(values.config.merge[k], v, k);
    assert.deepEqual(
      account.users.map((u) => u.user),
      conf.users.map((u) => u.user),
    );
    const secret = find(all, 'Secret', 'ratebus-nats-passwords');
    for (const u of account.users) {
      const inConf = conf.users.find((c) => c.user === u.user);
      assert.ok(inConf);
      assert.equal(u.password, `<< ${inConf.password} >>`, `${u.user}: password from the environment`);
      const variable = inConf.password.slice(1);
      assert.deepEqual(values.container.env[variable], {
        valueFrom: { secretKeyRef: { name: secret.metadata.name, key: variable } },
      });
      assert.ok(variable in (secret.stringData ?? {}));
      assert.deepEqual(
        normalise(u.permissions),
        conf.permissions[inConf.permissions],
        `${u.user} permissions`,
      );
    }
    // The URL every workload uses is the chart's client Service of the release the README installs.
    const fetcherEnv = container(find(all, 'Deployment', 'ratebus-fetcher'), 'fetcher').env ?? [];
    assert.equal(fetcherEnv.find((e) => e.name === 'NATS_URL')?.value, 'nats://ratebus-nats:4222');
  });
});

interface Permissions {
  publish: { allow: string[]; deny?: string[] };
  subscribe: { allow: string[] };
  allow_responses?: boolean;
}
interface NatsValues {
  config: {
    cluster: { enabled: boolean; replicas: number };
    jetstream: { enabled: boolean; fileStore: { enabled: boolean } };
    merge: {
      accounts: {
        RATEBUS: {
          jetstream: Record<string, number>;
          limits: Record<string, number>;
          users: { user: string; password: string; permissions: Permissions }[];
        };
      };
    } & Record<string, unknown>;
  };
  container: { env: Record<string, unknown> };
}

function normalise(p: Permissions): Permissions {
  const out: Permissions = {
    publish: { allow: [...p.publish.allow].sort() },
    subscribe: { allow: [...p.subscribe.allow].sort() },
  };
  if (p.publish.deny) out.publish.deny = [...p.publish.deny].sort();
  if (p.allow_responses) out.allow_responses = true;
  return out;
}

/**
 * The parts of accounts.conf the Helm values must repeat: users, their password variables, permission blocks,
 * the account's `jetstream {}` and `limits {}` numbers and the server-wide per-connection limits.
 */
function accountsConf(text: string): {
  users: { user: string; password: string; permissions: string }[];
  permissions: Record<string, Permissions>;
  jetstream: Record<string, number>;
  limits: Record<string, number>;
  server: Record<string, number>;
} {
  const src = text.replace(/#[^\n]*/g, '');
  const block = (from: number): string => {
    const open = src.indexOf('{', from);
    let depth = 0;
    for (let i = open; i < src.length; i++) {
      if (src[i] === '{') depth++;
      else if (src[i] === '}' && --depth === 0) return src.slice(open + 1, i);
    }
    throw new Error('unbalanced braces in accounts.conf');
  };
  const list = (b: string, key: string): string[] | undefined => {
    const m = new RegExp(`${key}\\s*:\\s*\\[([^\\]]*)\\]`).exec(b);
    return m ? [...(m[1] ?? '').matchAll(/"([^"]*)"/g)].map((x) => x[1] as string) : undefined;
  };
  const permissions: Record<string, Permissions> = {};
  for (const m of src.matchAll(/([A-Z_]+_PERMISSIONS)\s*=/g)) {
    const b = block(m.index ?? 0);
    const pub = block(src.indexOf('publish', m.index));
    const sub = block(src.indexOf('subscribe', m.index));
    const p: Permissions = {
      publish: { allow: list(pub, 'allow') ?? [] },
      subscribe: { allow: list(sub, 'allow') ?? [] },
    };
    const deny = list(pub, 'deny');
    if (deny) p.publish.deny = deny;
    if (/allow_responses\s*:\s*true/.test(b)) p.allow_responses = true;
    permissions[m[1] as string] = normalise(p);
  }
  const users = [
    ...src.matchAll(/\{\s*user:\s*(\w+),\s*password:\s*(\$\w+),\s*permissions:\s*\$(\w+)\s*\}/g),
  ].map((u) => ({ user: u[1] as string, password: u[2] as string, permissions: u[3] as string }));
  assert.equal(Object.keys(permissions).length, 4, 'four permission blocks in accounts.conf');
  assert.equal(users.length, 5, 'five users in accounts.conf');
  const numbers = (b: string): Record<string, number> =>
    Object.fromEntries([...b.matchAll(/(\w+)\s*:\s*(\d+)/g)].map((m) => [m[1] as string, Number(m[2])]));
  const account = src.indexOf('RATEBUS', src.indexOf('accounts {'));
  return {
    users,
    permissions,
    jetstream: numbers(block(src.indexOf('jetstream', account))),
    limits: numbers(block(src.indexOf('limits', account))),
    // server-wide options sit at the start of a line, outside every block
    server: numbers([...src.matchAll(/^max_\w+\s*:\s*\d+$/gm)].join('\n')),
  };
}
