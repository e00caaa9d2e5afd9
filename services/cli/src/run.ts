import { readCommandLine } from './args.js';
import { get } from './commands/get.js';
import { refresh } from './commands/refresh.js';
import { status } from './commands/status.js';
import { watch } from './commands/watch.js';
import { type ConnectionSettings, resolveConnection } from './connection.js';
import { CommandError, EXIT_ERROR, EXIT_OK, UsageError } from './errors.js';
import { HELP, version } from './help.js';
import type { CliIo } from './io.js';

/**
 * Runs one command line and returns the exit code: 0 ok, 1 error, 2 usage. Arguments, codes and the
 * connection settings are all validated before NATS is touched. Never throws.
 */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    const line = readCommandLine(argv);
    const problems = [...line.problems];
    let settings: ConnectionSettings | null = null;
    if (line.connection) {
      try {
        settings = resolveConnection(line.connection, io.env, io.readFile);
      } catch (e) {
        if (!(e instanceof UsageError)) throw e;
        problems.push(...e.problems);
      }
    }
    const inv = line.invocation;
    if (inv?.kind === 'help') {
      io.out(HELP);
      return EXIT_OK;
    }
    if (inv?.kind === 'version') {
      io.out(version());
      return EXIT_OK;
    }
    if (inv === null || settings === null || problems.length > 0) throw new UsageError(problems);
    const ctx = { command: inv.command, json: inv.json, timeoutMs: inv.timeoutMs, settings, io };
    switch (inv.command) {
      case 'status':
        return await status(ctx);
      case 'get':
        return await get(ctx, requireRef(inv.ref));
      case 'watch':
        return await watch(ctx, inv.ref);
      case 'refresh':
        return await refresh(ctx, requireRef(inv.ref), inv.force);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`ratebus: ${e.message}`);
      io.err(`run "ratebus --help" for usage`);
      return e.exitCode;
    }
    if (e instanceof CommandError) {
      io.err(`ratebus: ${e.message}`);
      return e.exitCode;
    }
    io.err(`ratebus: unexpected error: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    return EXIT_ERROR;
  }
}

function requireRef<T>(ref: T | null): T {
  if (ref === null) throw new UsageError(['<product> <tariff> are required']);
  return ref;
}
