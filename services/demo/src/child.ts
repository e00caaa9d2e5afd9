import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

/** How a child ended: an exit code, or the signal that ended it. */
export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Lines of a child's output kept for error messages. */
const TAIL_LINES = 40;

/**
 * A program the demo started (nats-server, the simulator, a fetcher, the gateway). Its output is read line
 * by line, so the demo can wait for the line that says it is ready and show the last lines when it fails.
 */
export class Child {
  readonly name: string;
  readonly exited: Promise<Exit>;
  readonly #proc: ChildProcess;
  readonly #tail: string[] = [];
  readonly #watchers = new Set<(line: string) => void>();
  #exit: Exit | null = null;

  private constructor(name: string, proc: ChildProcess) {
    this.name = name;
    this.#proc = proc;
    for (const stream of [proc.stdout, proc.stderr]) {
      if (stream) createInterface({ input: stream }).on('line', (line) => this.#line(line));
    }
    this.exited = once(proc, 'exit').then(([code, signal]) => {
      this.#exit = { code, signal } as Exit;
      return this.#exit;
    });
  }

  /** Starts `command`; rejects when it cannot be started at all (e.g. not found). */
  static async spawn(
    name: string,
    command: string,
    args: readonly string[],
    opts: { env: NodeJS.ProcessEnv; cwd?: string },
  ): Promise<Child> {
    const proc = spawn(command, args, { env: opts.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const child = new Child(name, proc);
    await once(proc, 'spawn');
    return child;
  }

  get pid(): number {
    return this.#proc.pid ?? -1;
  }

  get running(): boolean {
    return this.#exit === null;
  }

  /** The last lines it printed. */
  tail(): string {
    return this.#tail.join('\n');
  }

  /** The first line (seen so far or to come) matching `pattern`; rejects when the child exits or time is up. */
  firstLine(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    const seen = this.#tail.map((l) => l.match(pattern)).find((m) => m !== null);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const done = (error: Error | null, match?: RegExpMatchArray) => {
        clearTimeout(timer);
        this.#watchers.delete(watch);
        if (match) resolve(match);
        else reject(error);
      };
      const watch = (line: string) => {
        const m = line.match(pattern);
        if (m) done(null, m);
      };
      const timer = setTimeout(
        () => done(this.#failure(`no line ${pattern} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.#watchers.add(watch);
      void this.exited.then((how) => done(this.#failure(`exited (${describeExit(how)})`)));
    });
  }

  /** SIGKILL now, without waiting: the last resort when the demo itself exits. */
  kill(): void {
    if (this.running) this.#proc.kill('SIGKILL');
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. Idempotent. */
  async stop(graceMs = 5_000): Promise<void> {
    if (!this.running) return;
    this.#proc.kill('SIGTERM');
    const timer = setTimeout(() => this.kill(), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  #line(line: string): void {
    this.#tail.push(line);
    if (this.#tail.length > TAIL_LINES) this.#tail.shift();
    for (const watch of [...this.#watchers]) watch(line);
  }

  #failure(what: string): Error {
    return new Error(`${this.name} ${what}; its last lines:\n${this.tail()}`);
  }
}

/** `code 1` or `SIGKILL`. */
export function describeExit(how: Exit): string {
  return how.signal ?? `code ${how.code}`;
}
