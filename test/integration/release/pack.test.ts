import assert from 'node:assert/strict';
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { createBuckets, makeDoc, publish } from '@ratebus/fixtures';
import { NatsServer } from '@ratebus/testkit';

/**
 * `@ratebus/client` as someone else gets it: `npm pack` of the client and the packages it depends on, an
 * install of the tarballs into an empty project (the NATS packages come in as peer dependencies from the
 * registry), then a plain-JavaScript ESM script and a type-checked TypeScript one run against a real
 * nats-server holding a rates document.
 */

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const PACKAGES = ['packages/schema', 'packages/bus', 'packages/octopus', 'packages/client'];
const PRODUCT = 'AGILE-24-10-01';
const TARIFF = 'E-1R-AGILE-24-10-01-C';

function run(
  cmd: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv = process.env,
): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: 120_000 });
  if (r.error) throw r.error;
  return r;
}

const PLAIN_JS = `
import { connect } from '@nats-io/transport-node';
import { ClientErrorCode, RateClient } from '@ratebus/client';

const [product, tariff] = ['${PRODUCT}', '${TARIFF}'];
const out = {};
const client = await RateClient.connect({ servers: process.env.NATS_URL, name: 'packed-js' });
try {
  out.source = await client.ready();
  const view = client.get(product, tariff);
  out.hash = view?.document.contentHash;
  out.slots = client.slots(product, tariff, { from: view.document.window.from, to: view.coversThrough })?.length;
  out.connected = client.isConnected();
  out.code = ClientErrorCode.NotFound;
} finally {
  await client.close();
}
// A caller that owns the connection passes it in: the NATS packages are peer dependencies.
const nc = await connect({ servers: process.env.NATS_URL });
const shared = await RateClient.connect({ nc });
await shared.ready();
out.sharedRevision = shared.get(product, tariff)?.revision;
await shared.close();
out.ncOpenAfterClose = !nc.isClosed();
await nc.close();
console.log(JSON.stringify(out));
`;

const TYPED_TS = `
import { type ClientStats, type Freshness, RateClient, type RateView } from '@ratebus/client';

const client: RateClient = await RateClient.connect({ servers: process.env.NATS_URL ?? '', freshForMs: 30 * 60_000 });
await client.ready();
const view: RateView | undefined = client.get('${PRODUCT}', '${TARIFF}');
const freshness: Freshness | undefined = view?.freshness;
const stats: ClientStats = client.stats();
await client.close();
console.log(JSON.stringify({ freshness, held: stats.held, term: view?.document.term }));
`;

/** Must not compile: proves the declarations are really checked. */
const WRONG_TS = `
import { RateClient } from '@ratebus/client';
const client = await RateClient.connect({ servers: 'nats://127.0.0.1:1' });
const n: number = client.get('${PRODUCT}', '${TARIFF}')?.freshness ?? 0;
console.log(n);
`;

describe('@ratebus/client packed, installed into an empty project, used from JavaScript and TypeScript', function () {
  this.timeout(120_000);
  let dir: string;
  let ns: NatsServer;
  let admin: NatsConnection;
  let packed: { name: string; filename: string; files: { path: string }[] }[];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ratebus-pack-'));
    const r = run(
      'npm',
      ['pack', '--json', '--pack-destination', dir, ...PACKAGES.flatMap((p) => ['-w', p])],
      ROOT,
    );
    assert.equal(r.status, 0, r.stderr);
    packed = JSON.parse(r.stdout) as typeof packed;
    ns = await NatsServer.start();
    admin = await connect({ servers: ns.url });
    const doc = makeDoc(PRODUCT, TARIFF, {
      slots: 150,
      end: `${new Date(Date.now() + 86_400_000).toISOString().slice(0, 13)}:00:00Z`,
    });
    await publish(await createBuckets(admin), doc);
  });
  after(async () => {
    await admin?.close();
    await ns?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('ships compiled JavaScript and declarations only, no maps into sources it does not ship', () => {
    assert.deepEqual(packed.map((p) => p.name).sort(), [
      '@ratebus/bus',
      '@ratebus/client',
      '@ratebus/octopus',
      '@ratebus/schema',
    ]);
    const root = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const p of packed) {
      const files = p.files.map((f) => f.path);
      assert.ok(files.includes('package.json') && files.includes('dist/src/index.js'), p.name);
      assert.ok(files.includes('dist/src/index.d.ts'), `${p.name} ships its declarations`);
      const stray = files.filter(
        (f) => f.endsWith('.map') || (f.endsWith('.ts') && !f.endsWith('.d.ts')) || f.includes('/test/'),
      );
      assert.deepEqual(stray, [], `${p.name} ships no maps, sources or tests`);
      assert.ok(p.filename.endsWith(`-${root.version}.tgz`), `${p.name} carries the root version`);
    }
    const client = JSON.parse(readFileSync(join(ROOT, 'packages/client/package.json'), 'utf8')) as {
      exports: { '.': Record<string, string> };
      dependencies: Record<string, string>;
      peerDependencies: Record<string, string>;
    };
    assert.equal(Object.keys(client.exports['.'])[0], 'types', 'types first in the exports map');
    for (const n of ['@nats-io/transport-node', '@nats-io/jetstream', '@nats-io/kv']) {
      assert.ok(n in client.peerDependencies && !(n in client.dependencies), `${n} is a peer dependency`);
    }
  });

  it('installs and works from plain JavaScript (ESM) and from type-checked TypeScript', () => {
    const app = join(dir, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    const tarballs = packed.map((p) => join(dir, p.filename));
    const types = (
      JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
        devDependencies: Record<string, string>;
      }
    ).devDependencies['@types/node'];
    const install = run(
      'npm',
      [
        'install',
        '--no-audit',
        '--no-fund',
        '--prefer-offline',
        '--loglevel',
        'error',
        ...tarballs,
        `@types/node@${types}`,
      ],
      app,
    );
    assert.equal(install.status, 0, install.stderr);
    const installed = join(app, 'node_modules', '@ratebus', 'client');
    assert.ok(existsSync(join(installed, 'dist', 'src', 'index.d.ts')));
    assert.ok(!existsSync(join(installed, 'src')), 'no sources installed');
    assert.ok(
      existsSync(join(app, 'node_modules', '@nats-io', 'transport-node')),
      'the peer dependency is installed',
    );

    const env = { ...process.env, NATS_URL: ns.url };
    writeFileSync(join(app, 'plain.mjs'), PLAIN_JS);
    const plain = run(process.execPath, ['plain.mjs'], app, env);
    assert.equal(plain.status, 0, plain.stderr);
    const out = JSON.parse(plain.stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
    assert.equal(out.source, 'nats');
    assert.match(String(out.hash), /^sha256:[0-9a-f]{64}$/);
    assert.ok(Number(out.slots) > 0, 'slots');
    assert.equal(out.connected, true);
    assert.equal(out.code, 'ERR_TARIFF_NOT_FOUND');
    assert.ok(Number(out.sharedRevision) > 0);
    assert.equal(out.ncOpenAfterClose, true, "a caller's connection is not closed by the client");

    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const tsconfig = {
      compilerOptions: {
        target: 'es2022',
        module: 'nodenext',
        moduleResolution: 'nodenext',
        strict: true,
        types: ['node'],
        outDir: 'out',
      },
    };
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ ...tsconfig, files: ['typed.ts'] }));
    writeFileSync(join(app, 'typed.ts'), TYPED_TS);
    const compiled = run(process.execPath, [tsc, '-p', '.'], app);
    assert.equal(compiled.status, 0, `${compiled.stdout}${compiled.stderr}`);
    const typed = run(process.execPath, [join('out', 'typed.js')], app, env);
    assert.equal(typed.status, 0, typed.stderr);
    const t = JSON.parse(typed.stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
    assert.equal(t.held, 1);
    assert.ok(['fresh', 'stale', 'expired'].includes(String(t.freshness)));

    writeFileSync(join(app, 'tsconfig.wrong.json'), JSON.stringify({ ...tsconfig, files: ['wrong.ts'] }));
    writeFileSync(join(app, 'wrong.ts'), WRONG_TS);
    const wrong = run(process.execPath, [tsc, '-p', 'tsconfig.wrong.json', '--noEmit'], app);
    assert.notEqual(wrong.status, 0, 'a type error in the caller is caught');
    assert.match(`${wrong.stdout}${wrong.stderr}`, /wrong\.ts/);
  });
});
