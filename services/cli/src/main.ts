#!/usr/bin/env node
/**
 * The `ratebus` operator CLI: wiring only (argv, env, stdio, signals, exit code); the commands live in
 * `run.ts` and `commands/`.
 */
import { readFileSync } from 'node:fs';
import { run } from './run.js';

/** After the command returns, wait this long for stdout to drain before forcing the exit, ms. */
const EXIT_GRACE_MS = 2_000;

let abort: AbortController | null = null;
/** Ctrl-C / SIGTERM end a long-running command gracefully; a second signal exits at once. */
function interruptible(): AbortSignal {
  if (abort) return abort.signal;
  const ac = new AbortController();
  abort = ac;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (ac.signal.aborted) process.exit(130);
      ac.abort();
    });
  }
  return ac.signal;
}

const code = await run(process.argv.slice(2), {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  env: process.env,
  readFile: (p) => readFileSync(p, 'utf8'),
  interruptible,
});
process.exitCode = code;
// Exit naturally so piped output is flushed; force it only if some handle keeps the loop alive.
setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref();
