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
  fixtures: ['@ratebus/schema', '@ratebus/bus', '@ratebus/testkit'],
};
/** What the packages' own tests may import besides their package's allowed imports. */
const PACKAGE_TEST_EXTRA = ['@ratebus/testkit', '@ratebus/fixtures'];

const PACKAGES = Object.keys(ALLOWED).map((p) => `@ratebus/${p}`);
/** What a service's own code (`src/`) may import: packages only, never the test kit, never another service. */
const SERVICE_SRC: Record<string, string[]> = {
  cli: ['@ratebus/schema', '@ratebus/bus', '@ratebus/client'],
  demo: ['@ratebus/schema', '@ratebus/bus', '@ratebus/octopus', '@ratebus/client', '@ratebus/service-kit'],
  fetcher: ['@ratebus/schema', '@ratebus/bus', '@ratebus/octopus', '@ratebus/service-kit'],
  gateway: ['@ratebus/schema', '@ratebus/bus', '@ratebus/octopus', '@ratebus/client', '@ratebus/service-kit'],
  'octopus-sim': ['@ratebus/schema'],
};

/** Longest function a main.ts may hold: wiring only. */
const MAIN_FUNCTION_LINES = 40;

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
    it(`services/${svc} imports only ${allowed.join(', ')} (tests: the test kit and fixtures too), no other service`, () => {
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
      check('test', PACKAGES);
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
    it(`packages/${pkg} imports only ${allowed.join(', ') || 'no other ratebus package'} (tests: the test kit and fixtures too) and nothing from services/`, () => {
      const tests = join(root, 'packages', pkg, 'test', '/');
      for (const file of sources(join(root, 'packages', pkg))) {
        const ok = file.startsWith(tests) ? [...allowed, ...PACKAGE_TEST_EXTRA] : allowed;
        for (const spec of imports(file)) {
          const where = `${relative(root, file)} imports ${spec}`;
          assert.ok(!spec.includes('services/'), where);
          assert.ok(!SERVICES.includes(spec), where);
          if (spec.startsWith('@ratebus/')) assert.ok(ok.includes(spec), where);
          if (spec.startsWith('.'))
            assert.ok(!spec.startsWith('../../'), `${where}: reaches outside the package`);
        }
      }
    });
  }

  it('the fixtures package is private and only tests and benchmarks depend on it', () => {
    const manifest = JSON.parse(readFileSync(join(root, 'packages/fixtures/package.json'), 'utf8'));
    assert.equal(manifest.private, true);
    for (const dir of ['packages', 'services']) {
      for (const name of readdirSync(join(root, dir))) {
        const file = join(root, dir, name, 'package.json');
        if (!existsSync(file)) continue;
        const deps = JSON.parse(readFileSync(file, 'utf8')).dependencies ?? {};
        assert.ok(
          !('@ratebus/fixtures' in deps),
          `${dir}/${name}: @ratebus/fixtures is a dev dependency only`,
        );
      }
    }
  });

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

  it('every workspace of the root package.json is one this test checks', () => {
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    const checked = [
      ...Object.keys(ALLOWED).map((p) => `packages/${p}`),
      ...Object.keys(SERVICE_SRC).map((s) => `services/${s}`),
      'test',
      'bench',
    ];
    assert.deepEqual([...manifest.workspaces].sort(), checked.sort());
  });

  it(`a service's main.ts only wires: no function in it runs over ${MAIN_FUNCTION_LINES} lines`, () => {
    for (const svc of Object.keys(SERVICE_SRC)) {
      const file = join(root, 'services', svc, 'src', 'main.ts');
      if (!existsSync(file)) continue;
      for (const f of topLevelFunctions(readFileSync(file, 'utf8'))) {
        assert.ok(
          f.lines <= MAIN_FUNCTION_LINES,
          `services/${svc}/src/main.ts: ${f.name} has ${f.lines} lines`,
        );
      }
    }
  });
});

/** Functions declared at the top level (`function` or `async function` at column 0, closed by `}` there). */
function topLevelFunctions(text: string): { name: string; lines: number }[] {
  const lines = text.split('\n');
  const found: { name: string; lines: number }[] = [];
  lines.forEach((line, i) => {
    const m = /^(?:export\s+)?(?:async\s+)?function\s*\*?\s*(\w+)/.exec(line);
    if (!m) return;
    const end = lines.findIndex((l, j) => j > i && /^}/.test(l));
    found.push({ name: m[1] as string, lines: (end === -1 ? lines.length : end) - i + 1 });
  });
  return found;
}
