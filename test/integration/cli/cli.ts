import { execFile } from 'node:child_process';
import { serviceMain } from '@ratebus/fixtures';
import { ManagedProcess } from '@ratebus/testkit';

/** The built CLI. */
export const CLI = serviceMain('cli');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Only PATH is inherited: a NATS_URL or NATS_USER of the caller's shell must not leak into a test. */
const baseEnv = (env: Record<string, string>) => ({ PATH: process.env.PATH ?? '', ...env });

/** Runs `ratebus <args>` to completion. */
export function runCli(args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: baseEnv(env), timeout: 20_000 },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') reject(error);
        else resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
      },
    );
  });
}

/** Starts a long-running `ratebus <args>` (watch). */
export function startCli(args: readonly string[], env: Record<string, string> = {}): Promise<ManagedProcess> {
  return ManagedProcess.start({
    name: `ratebus ${args[0] ?? ''}`,
    command: process.execPath,
    args: [CLI, ...args],
    env: baseEnv(env),
  });
}
