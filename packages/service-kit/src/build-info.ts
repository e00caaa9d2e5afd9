import { readFileSync } from 'node:fs';
import { Gauge, type Registry } from 'prom-client';

/**
 * The ratebus version, read from this package's package.json (the one version source: every package of the
 * repository carries the root's version, a test checks it). `dist/src/build-info.js` → `../../package.json`.
 */
export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** Registers `ratebus_build_info{service, version, nodejs}` = 1, the gauge every service exports. */
export function registerBuildInfo(service: string, registers: Registry[]): void {
  new Gauge({
    name: 'ratebus_build_info',
    help: 'Always 1; the labels say which build runs.',
    labelNames: ['service', 'version', 'nodejs'] as const,
    registers,
  }).set({ service, version: VERSION, nodejs: process.versions.node }, 1);
}
