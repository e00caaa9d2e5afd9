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

const SERVICES = ['@ratebus/fetcher', '@ratebus/gateway', '@ratebus/octopus-sim'];
/** Allowed @ratebus imports per package: schema ◀ bus, octopus ◀ client ◀ services. */
const ALLOWED: Record<string, string[]> = {
  schema: [],
  bus: ['@ratebus/schema'],
  octopus: ['@ratebus/schema'],
  client: ['@ratebus/schema', '@ratebus/bus', '@ratebus/octopus'],
  testkit: [],
  'service-kit': [],
};

describe('architecture', () => {
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
