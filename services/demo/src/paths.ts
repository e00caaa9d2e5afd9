import { fileURLToPath } from 'node:url';

/** The repository root (this file is services/demo/dist/src/paths.js once built). */
export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/** Built entry point of a service. */
export function serviceMain(service: 'octopus-sim' | 'fetcher' | 'gateway' | 'cli'): string {
  return `${REPO_ROOT}services/${service}/dist/src/main.js`;
}

export const ACCOUNTS_CONF = `${REPO_ROOT}services/nats/accounts.conf`;
