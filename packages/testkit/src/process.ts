import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { check } from './check.js';
import { StartFailedError } from './errors.js';

/** Suspends a process (SIGSTOP): it keeps its sockets but does nothing until resumed. */
export function pauseProcess(pid: number): void {
  process.kill(pid, 'SIGSTOP');
}

/** Resumes a process suspended by {@link pauseProcess} (SIGCONT). */
export function resumeProcess(pid: number): void {
  process.kill(pid, 'SIGCONT');
}

/** Process state letter from /proc (R, S, T for stopped, Z ...), or null once it is gone. */
export function processState(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return null;
  }
}

export interface StartProcessOptions {
  /** Label used in errors. */
  name: string;
  command: string;
  args?: readonly string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Keep at most this many characters of output. Default 1 MiB. */
  maxOutput?: number;
}

/**
 * A child process whose stdout and stderr are collected, so tests can await lines and show the tail when
 * something fails. Stops with SIGTERM then SIGKILL; can be paused and resumed.
 */
export class ManagedProcess implements AsyncDisposable {
  readonly name: string;
  readonly child: ChildProcess;
  private out = '';
  private readonly maxOutput: number;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private exitState: { code: number | null; signal: NodeJS.Signals | null } | null = null;

  private constructor(opts: StartProcessOptions, child: ChildProcess) {
    this.name = opts.name;
    this.child = child;
    this.maxOutput = opts.maxOutput ?? 1 << 20;
    const collect = (chunk: Buffer) => {
      this.out += chunk.toString('utf8');
      if (this.out.length > this.maxOutput) this.out = this.out.slice(-this.maxOutput);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitState = { code, signal };
        resolve(this.exitState);
      });
    });
  }

  /** Spawns the process; rejects if it cannot be spawned at all (e.g. ENOENT). */
  static async start(opts: StartProcessOptions): Promise<ManagedProcess> {
    const child = spawn(opts.command, opts.args ?? [], {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const proc = new ManagedProcess(opts, child);
    await Promise.race([
      once(child, 'spawn'),
      once(child, 'error').then(([e]) => {
        throw new StartFailedError(opts.name, (e as Error).message, '', { cause: e });
      }),
    ]);
    return proc;
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Everything the process printed so far (bounded). */
  output(): string {
    return this.out;
  }

  get running(): boolean {
    return this.exitState === null;
  }

  /** Waits until the output matches `pattern`; fails early if the process exits. */
  async waitForOutput(pattern: RegExp, timeout = 15_000): Promise<RegExpMatchArray> {
    return check(
      () => {
        if (!this.running)
          throw new StartFailedError(this.name, `exited (${JSON.stringify(this.exitState)})`, this.out);
        return this.out.match(pattern);
      },
      { timeout, name: `${this.name} output ${pattern}` },
    ).catch((e: unknown) => {
      if (e instanceof StartFailedError) throw e;
      throw new StartFailedError(this.name, `no output matching ${pattern} within ${timeout} ms`, this.out, {
        cause: e,
      });
    });
  }

  /** Sends a signal (default SIGKILL) and waits for exit unless the signal only pauses. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.running) return;
    if (this.child.signalCode === null) this.child.kill('SIGCONT');
    this.child.kill(signal);
    await this.exited;
  }

  pause(): void {
    pauseProcess(this.pid);
  }

  resume(): void {
    resumeProcess(this.pid);
  }

  /** SIGTERM, then SIGKILL after `graceMs`. Idempotent. */
  async stop(graceMs = 5_000): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGCONT');
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
