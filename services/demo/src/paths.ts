import { fileURLToPath } from 'node:url';

/** The repository root (this file is services/demo/dist/src/paths.js once built). */
export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/** Built entry point of a service. */
export function serviceMain(service: 'octopus-sim' | 'fetcher' | 'gateway' | 'cli'): string {
  return `${REPO_ROOT}services/${service}/dist/src/main.js`;
}

/** The deployment's single-node NATS config (it includes accounts.conf: per-role users and permissions). */
export const NATS_SINGLE_CONF = `${REPO_ROOT}services/nats/single.conf`;
/** The deployment's NATS launcher: checks the role passwords, then runs nats-server. */
export const NATS_RUN_SH = `${REPO_ROOT}services/nats/run.sh`;
