import { spawn } from 'node:child_process';
import { accessSync, chmodSync, constants, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { check, freePort, ManagedProcess } from '@ratebus/testkit';
import { within } from '../propagation/util.js';

/** Bound on `apt-get install nginx`. */
const APT_TIMEOUT_MS = 300_000;

function onPath(name: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin'];
  for (const d of dirs) {
    const p = join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  return null;
}

/** Path of an executable on PATH (or in sbin), or null. */
export function findBinary(name: string): string | null {
  return onPath(name);
}

async function run(cmd: string, args: string[], log: (l: string) => void): Promise<boolean> {
  log(`$ ${cmd} ${args.join(' ')}`);
  const child = spawn(cmd, args, {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  let err = '';
  child.stderr?.on('data', (c: Buffer) => {
    err = (err + c.toString()).slice(-2_000);
  });
  const code = await within(
    new Promise<number | null>((r) => {
      child.once('exit', (c) => r(c));
      child.once('error', () => r(-1));
    }),
    APT_TIMEOUT_MS,
  );
  if (code === null) child.kill('SIGKILL');
  if (code !== 0) log(`${cmd} failed (${code}): ${err.trim().split('\n').slice(-3).join(' | ')}`);
  return code === 0;
}

/**
 * The nginx binary; installs it with apt-get when it is missing and this process is root (a container or
 * CI runner), else fails with what to do.
 */
export async function ensureNginx(log: (l: string) => void): Promise<string> {
  const found = onPath('nginx');
  if (found) return found;
  if (process.getuid?.() !== 0 || !onPath('apt-get')) {
    throw new Error(
      'nginx is not installed, and this benchmark installs it only as root with apt-get: run `sudo apt-get install -y nginx` (or put nginx on PATH) and try again',
    );
  }
  if (!(await run('apt-get', ['install', '-y', 'nginx'], log))) {
    await run('apt-get', ['update'], log);
    await run('apt-get', ['install', '-y', 'nginx'], log);
  }
  const installed = onPath('nginx');
  if (!installed) throw new Error('apt-get install -y nginx did not provide an nginx binary');
  return installed;
}

/**
 * nginx serving files from a temp dir as a non-daemon child (`daemon off;`), one worker, access log off,
 * on a free loopback port; its own prefix for pid and temp paths. `files` maps request paths (with the
 * query, e.g. `/a/?page=2`) to bodies: a path `P` is stored as `P/page.json`, `P?page=N` as `P/pageN.json`.
 */
export class Nginx {
  private constructor(
    readonly dir: string,
    readonly port: number,
    readonly proc: ManagedProcess,
  ) {}

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  static async start(binary: string, files: ReadonlyMap<string, Buffer>): Promise<Nginx> {
    const dir = mkdtempSync(join(tmpdir(), 'ratebus-bench-nginx-'));
    try {
      const www = join(dir, 'www');
      for (const [path, body] of files) {
        const u = new URL(path, 'http://x');
        const page = u.searchParams.get('page') ?? '';
        if (!/^\d*$/.test(page) || u.pathname.includes('..')) throw new Error(`unexpected path ${path}`);
        const file = join(www, u.pathname, `page${page}.json`);
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, body);
      }
      // A root master hands requests to an unprivileged worker: it must be able to read the tree.
      chmodSync(dir, 0o755);
      const port = await freePort();
      const conf = join(dir, 'nginx.conf');
      writeFileSync(
        conf,
        [
          'daemon off;',
          'worker_processes 1;',
          `pid ${join(dir, 'nginx.pid')};`,
          'error_log stderr warn;',
          'events { worker_connections 1024; }',
          'http {',
          '  access_log off;',
          ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(
            (t) => `  ${t}_temp_path ${join(dir, `${t}_temp`)};`,
          ),
          '  default_type application/json;',
          '  sendfile on;',
          '  tcp_nopush on;',
          '  keepalive_requests 1000000;',
          '  server {',
          `    listen 127.0.0.1:${port};`,
          `    root ${www};`,
          '    location / { try_files $uri/page$arg_page.json =404; }',
          '  }',
          '}',
          '',
        ].join('\n'),
      );
      const proc = await ManagedProcess.start({
        name: 'nginx',
        command: binary,
        args: ['-p', dir, '-c', conf, '-e', 'stderr'],
      });
      const nginx = new Nginx(dir, port, proc);
      try {
        await check(
          async () => {
            if (!proc.running) throw new Error(`nginx exited: ${proc.output().slice(-2_000)}`);
            const res = await fetch(`${nginx.origin}/`);
            await res.arrayBuffer();
            return true;
          },
          { name: 'nginx listening', timeout: 10_000, interval: 50 },
        );
      } catch (e) {
        await nginx.stop();
        throw new Error(`nginx did not start: ${proc.output().slice(-2_000)}`, { cause: e });
      }
      return nginx;
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
  }

  /** Stops nginx (SIGTERM, then SIGKILL) and removes its prefix. Idempotent. */
  async stop(): Promise<void> {
    await this.proc.stop(3_000);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
