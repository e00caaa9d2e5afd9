import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SimTime } from '../simtime.js';
import { runPollingPods } from './polling.js';
import type { DesignResult, DesignRun } from './result.js';
import { MINUTE } from './scenario.js';

/** Pods per host sharing one cache directory. */
export const PODS_PER_HOST = 50;
const FRESH_MS = 30 * MINUTE;
const STALE_MS = 35 * MINUTE;

interface Entry {
  savedAt: number;
  body: string;
}

/**
 * The original shared file cache (origin PR): one directory per host, `shared/urls/{sha256}.json` per URL,
 * fresh < 30 min → cached; 30–35 min → whoever creates `{file}.lock` with O_CREAT|O_EXCL refreshes inline,
 * the others serve the stale copy; ≥ 35 min or missing → fetch. Failed fetches are not cached.
 */
class HostCache {
  readonly #dir: string;
  readonly #time: SimTime;

  constructor(dir: string, time: SimTime) {
    this.#dir = dir;
    this.#time = time;
  }

  async get(url: string, fetch: () => Promise<string | null>): Promise<string | null> {
    const file = join(this.#dir, `${createHash('sha256').update(url).digest('hex').slice(0, 16)}.json`);
    const cached = await readFile(file, 'utf8').then(
      (t) => JSON.parse(t) as Entry,
      () => null,
    );
    const age = cached ? this.#time.now() - cached.savedAt : Number.POSITIVE_INFINITY;
    if (cached && age < FRESH_MS) return cached.body;
    if (cached && age < STALE_MS) {
      let lock: Awaited<ReturnType<typeof open>> | null = null;
      try {
        lock = await open(`${file}.lock`, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY);
      } catch {
        return cached.body; // another pod on this host is refreshing
      }
      try {
        return (await this.#refresh(file, fetch)) ?? cached.body;
      } finally {
        await lock.close();
        await unlink(`${file}.lock`).catch(() => undefined);
      }
    }
    return (await this.#refresh(file, fetch)) ?? cached?.body ?? null;
  }

  async #refresh(file: string, fetch: () => Promise<string | null>): Promise<string | null> {
    const body = await fetch();
    if (body === null) return null;
    const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    await writeFile(tmp, JSON.stringify({ savedAt: this.#time.now(), body } satisfies Entry));
    await rename(tmp, file);
    return body;
  }
}

/** Design (b): pods on one host share a file cache with 30/35-minute stale-while-revalidate and a lock file. */
export async function runFileCache(run: DesignRun): Promise<DesignResult> {
  const { time, pods } = run;
  const root = await mkdtemp(join(tmpdir(), 'ratebus-bench-filecache-'));
  const hosts: HostCache[] = [];
  for (let h = 0; h < Math.ceil(pods / PODS_PER_HOST); h++) {
    const dir = join(root, `host-${h}`, 'shared', 'urls');
    await mkdir(dir, { recursive: true });
    hosts.push(new HostCache(dir, time));
  }
  try {
    return await runPollingPods(run, 'shared file cache (30/35 min SWR + lock)', (pod, url, fetch) => {
      const host = Math.floor(pod / PODS_PER_HOST);
      return (hosts[host] as HostCache).get(url, () => fetch(`host-${host}`));
    });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
