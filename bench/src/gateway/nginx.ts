import { spawn } from 'node:child_process';
import { accessSync, chmodSync, constants, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { freePort, ManagedProcess } from '@ratebus/testkit';
import { within } from '../propagation/util.js';
import { awaitListening, ServerInDir } from './listening.js';

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
 * on a free loopback port; its own prefix for pid and temp paths. `files` maps request targets (path and
 * query exactly as the client sends them, e.g. `/a/?page=2`) to bodies: each is a file, found through a
 * `map` on `$request_uri`.
 */
export class Nginx extends ServerInDir {
  static async start(binary: string, files: ReadonlyMap<string, Buffer>): Promise<Nginx> {
    const dir = mkdtempSync(join(tmpdir(), 'ratebus-bench-nginx-'));
    try {
      const www = join(dir, 'www');
      mkdirSync(www, { recursive: true });
      // One file per request target (path and query, exactly as sent), looked up by `$request_uri`.
      const entries: string[] = [];
      let i = 0;
      for (const [target, body] of files) {
        if (!/^\/[!-~]*$/.test(target) || /["\\;{}]/.test(target))
          throw new Error(`unexpected path ${target}`);
        const name = `/f${i++}.json`;
        writeFileSync(join(www, name), body);
        entries.push(`    "${target}" ${name};`);
      }
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
          '  map_hash_bucket_size 256;',
          '  map $request_uri $ratebus_file {',
          '    default /missing;',
          ...entries,
          '  }',
          '  server {',
          `    listen 127.0.0.1:${port};`,
          `    root ${www};`,
          '    location / { try_files $ratebus_file =404; }',
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
      await awaitListening(nginx, proc, 'nginx');
      return nginx;
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
  }
}
