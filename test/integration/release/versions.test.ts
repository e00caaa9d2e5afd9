import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VERSION as FETCHER_VERSION } from '@ratebus/fetcher';
import { VERSION as GATEWAY_VERSION } from '@ratebus/gateway';

/**
 * One version source: the root package.json. Every workspace package carries it, every dependency between
 * them pins it, the services report it (ratebus_build_info) and CHANGELOG.md has an entry for it.
 */

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const read = (p: string) => JSON.parse(readFileSync(join(ROOT, p), 'utf8')) as Manifest;

interface Manifest {
  name: string;
  version: string;
  workspaces?: string[];
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

describe('Versions', () => {
  const root = read('package.json');

  it('every workspace package has the root version and pins its siblings to it', () => {
    assert.match(root.version, /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/);
    const problems: string[] = [];
    for (const ws of root.workspaces ?? []) {
      const m = read(join(ws, 'package.json'));
      if (m.version !== root.version) problems.push(`${m.name}: version ${m.version}`);
      for (const deps of [m.dependencies, m.devDependencies, m.peerDependencies]) {
        for (const [name, range] of Object.entries(deps ?? {})) {
          if (name.startsWith('@ratebus/') && range !== root.version)
            problems.push(`${m.name}: ${name}@${range}`);
        }
      }
    }
    assert.deepEqual(problems, []);
  });

  it('the services report it, and the changelog describes it', () => {
    assert.equal(FETCHER_VERSION, root.version);
    assert.equal(GATEWAY_VERSION, root.version);
    const changelog = readFileSync(join(ROOT, 'CHANGELOG.md'), 'utf8');
    const first = /^## \[?(\d+\.\d+\.\d+[^\]\s]*)\]?/m.exec(changelog);
    assert.equal(first?.[1], root.version, 'the newest CHANGELOG.md entry is the current version');
  });
});
