import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Documents that exist: every `*.md` a tracked file cites is in the repository (relative to the citing file
 * or to the root), and no tracked file names a path of the machine it was written on.
 */

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const tracked = execFileSync('git', ['ls-files'], { cwd: ROOT, encoding: 'utf8' })
  .split('\n')
  .filter((f) => f !== '' && !f.endsWith('package-lock.json') && existsSync(join(ROOT, f)));
const text = (f: string): string | null => {
  const buf = readFileSync(join(ROOT, f));
  return buf.includes(0) ? null : buf.toString('utf8');
};

describe('Documents that exist', () => {
  it('every cited .md document is in the repository', () => {
    const missing: string[] = [];
    for (const f of tracked) {
      const t = text(f);
      if (t === null) continue;
      for (const m of t.matchAll(/(?<![\w/.:-])((?:\.\.?\/)*[\w.-]+(?:\/[\w.-]+)*\.md)\b/g)) {
        const ref = m[1] as string;
        const before = t.slice(Math.max(0, (m.index ?? 0) - 80), m.index);
        if (/https?:\/\/\S*$/.test(before)) continue; // part of a URL
        // Relative to the citing file, the root, or docs/ (text that bench/src writes into docs/benchmarks.md).
        const bases = [dirname(f), '.', 'docs'];
        if (!bases.some((b) => existsSync(join(ROOT, b, ref)))) missing.push(`${f}: ${ref}`);
      }
    }
    assert.deepEqual(missing, []);
  });

  it('no tracked file names a path of the machine it was written on', () => {
    const found: string[] = [];
    for (const f of tracked) {
      const t = text(f);
      if (t === null) continue;
      for (const m of t.matchAll(
        /(?<![\w.~-])\/(?:work|root|home\/[a-z][\w-]*|Users\/[A-Za-z][\w-]*)\/[\w.-]+/g,
      )) {
        found.push(`${f}: ${m[0]}`);
      }
    }
    assert.deepEqual(found, []);
  });
});
