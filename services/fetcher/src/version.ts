import { readFileSync } from 'node:fs';

/**
 * The version of this package, read from its package.json (the one version source: every package of the
 * repository carries the root's version, a test checks it). `dist/src/version.js` → `../../package.json`.
 */
export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
