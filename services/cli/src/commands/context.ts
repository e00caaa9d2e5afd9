import type { CommandName } from '../args.js';
import type { ConnectionSettings } from '../connection.js';
import type { CliIo } from '../io.js';

/** What every command gets: its validated invocation, connection settings and I/O. */
export interface CommandContext {
  readonly command: CommandName;
  readonly json: boolean;
  readonly timeoutMs: number;
  readonly settings: ConnectionSettings;
  readonly io: CliIo;
}
