import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));

function sources(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return name === 'node_modules' || name === 'dist' ? [] : sources(p);
    return p.endsWith('.ts') ? [p] : [];
  });
}

function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const statics = [...text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s*['"]([^'"]+)['"]/gms)];
  const bare = [...text.matchAll(/^\s*import\s*['"]([^'"]+)['"]/gm)];
  const dynamic = [...text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)];
  return [...statics, ...bare, ...dynamic].map((m) => m[1] as string);
}

const SERVICES = [
  '@ratebus/cli',
  '@ratebus/demo',
  '@ratebus/fetcher',
  '@ratebus/gateway',
  '@ratebus/octopus-sim',
];
/** Allowed @ratebus imports per package: schema ◀ bus, octopus ◀ client ◀ services. */
const ALLOWED: Record<string, string[]> = {
  schema: [],
  bus: ['@ratebus/schema'],
  octopus: ['@ratebus/schema'],
  client: ['@ratebus/schema', '@ratebus/bus', '@ratebus/octopus'],
  testkit: [],
  'service-kit': [],
};

const PACKAGES = Object.keys(ALLOWED).map((p) => `@ratebus/${p}`);
/** What a service's own code (`src/`) may import: packages only, never the test kit, never another service. */
const SERVICE_SRC: Record<string, string[]> = {
  cli: ['@ratebus/schema', '@ratebus/bus', '@ratebus/client'],
  // The demo runs its own nats-server through the test kit: an arrow the wrong way, to go (issue 17).
  demo: ['@ratebus/schema', '@ratebus/octopus', '@ratebus/client', '@ratebus/testkit'],
  fetcher: ['@ratebus/schema', '@ratebus/bus', '@ratebus/octopus', '@ratebus/service-kit'],
  gateway: ['@ratebus/schema', '@ratebus/octopus', '@ratebus/client', '@ratebus/service-kit'],
  'octopus-sim': ['@ratebus/schema'],
};
/** Another service a service's tests use, each an arrow to remove (issue 17). */
const SERVICE_TEST_EXTRA: Record<string, string[]> = { fetcher: ['@ratebus/octopus-sim'] };

describe('architecture', () => {
  it('every service is known to this test', () => {
    const dirs = readdirSync(join(root, 'services')).filter((d) =>
      existsSync(join(root, 'services', d, 'src')),
    );
    assert.deepEqual(dirs.sort(), Object.keys(SERVICE_SRC).sort());
    const pkgs = readdirSync(join(root, 'packages')).filter((d) =>
      existsSync(join(root, 'packages', d, 'src')),
    );
    assert.deepEqual(pkgs.sort(), Object.keys(ALLOWED).sort());
  });

  for (const [svc, allowed] of Object.entries(SERVICE_SRC)) {
    it(`services/${svc} imports only ${allowed.join(', ')} (tests: the test kit too), no other service`, () => {
      const self = `@ratebus/${svc}`;
      const check = (dir: string, ok: readonly string[]) => {
        for (const file of sources(join(root, 'services', svc, dir))) {
          for (const spec of imports(file)) {
            const where = `${relative(root, file)} imports ${spec}`;
            if (spec.startsWith('@ratebus/')) assert.ok(spec === self || ok.includes(spec), where);
            if (spec.startsWith('.')) assert.ok(!spec.startsWith('../../../'), `${where}: reaches outside`);
          }
        }
      };
      check('src', allowed);
      check('test', [...PACKAGES, ...(SERVICE_TEST_EXTRA[svc] ?? [])]);
    });
  }

  it('test/ and bench/ use packages and services through their entry points only', () => {
    for (const dir of ['test', 'bench']) {
      for (const file of sources(join(root, dir))) {
        for (const spec of imports(file)) {
          const where = `${relative(root, file)} imports ${spec}`;
          assert.ok(!/^@ratebus\/[^/]+\//.test(spec), `${where}: a deep import`);
          if (spec.startsWith('.')) {
            const target = relative(root, join(file, '..', spec));
            assert.ok(target.startsWith(`${dir}/`), `${where}: reaches outside ${dir}/`);
          }
        }
      }
    }
  });

  for (const [pkg, allowed] of Object.entries(ALLOWED)) {
    it(`packages/${pkg} imports only ${allowed.join(', ') || 'no other ratebus package'} and nothing from services/`, () => {
      for (const file of sources(join(root, 'packages', pkg))) {
        for (const spec of imports(file)) {
          const where = `${relative(root, file)} imports ${spec}`;
          assert.ok(!spec.includes('services/'), where);
          assert.ok(!SERVICES.includes(spec), where);
          if (spec.startsWith('@ratebus/')) assert.ok(allowed.includes(spec), where);
          if (spec.startsWith('.'))
            assert.ok(!spec.startsWith('../../'), `${where}: reaches outside the package`);
        }
      }
    });
  }

  it('the schema package depends on zod only and does no I/O', () => {
    const manifest = JSON.parse(readFileSync(join(root, 'packages/schema/package.json'), 'utf8'));
    assert.deepEqual(Object.keys(manifest.dependencies ?? {}), ['zod']);
    for (const file of sources(join(root, 'packages/schema/src'))) {
      for (const spec of imports(file)) {
        assert.ok(
          spec === 'zod' || spec.startsWith('./') || spec === 'node:crypto',
          `${relative(root, file)} imports ${spec}`,
        );
      }
    }
  });
});
