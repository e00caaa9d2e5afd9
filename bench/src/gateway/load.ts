import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { type Cleanup, quantile, within } from '../propagation/util.js';

/** What one load phase measured. Latencies in ms. */
export interface LoadResult {
  readonly generator: string;
  readonly requests: number;
  readonly seconds: number;
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly errors: number;
  readonly bytes: number;
}

export interface LoadSpec {
  readonly origin: string;
  /** Request paths (with query), sent in turn. */
  readonly paths: readonly string[];
  readonly connections: number;
  readonly seconds: number;
}

/**
 * wrk (one thread, `connections` keep-alive connections, the paths in turn from a Lua script that prints
 * its figures as JSON).
 */
export async function runWrk(wrk: string, spec: LoadSpec, cleanup: Cleanup): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), 'ratebus-bench-wrk-'));
  cleanup.add('wrk script', () => rmSync(dir, { recursive: true, force: true }));
  try {
    const script = join(dir, 'paths.lua');
    writeFileSync(
      script,
      [
        `local paths = { ${spec.paths.map((p) => JSON.stringify(p)).join(', ')} }`,
        'local i = 0',
        'request = function()',
        '  i = i % #paths + 1',
        '  return wrk.format("GET", paths[i])',
        'end',
        'done = function(summary, latency, requests)',
        '  local e = summary.errors',
        '  io.write(string.format(\'{"bench":"wrk","requests":%d,"durationUs":%d,"bytes":%d,"errors":%d,"p50Us":%d,"p99Us":%d,"maxUs":%d}\\n\',',
        '    summary.requests, summary.duration, summary.bytes, e.connect + e.read + e.write + e.status + e.timeout,',
        '    latency:percentile(50), latency:percentile(99), latency.max))',
        'end',
        '',
      ].join('\n'),
    );
    const args = [
      '-t1',
      `-c${spec.connections}`,
      `-d${spec.seconds}s`,
      '--timeout',
      '10s',
      '-s',
      script,
      spec.origin,
    ];
    const child = spawn(wrk, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    cleanup.add('wrk', () => child.kill('SIGKILL'));
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      out += c.toString();
    });
    const code = await within(
      new Promise<number | null>((r) => child.once('exit', r)),
      (spec.seconds + 30) * 1000,
    );
    if (code === null) child.kill('SIGKILL');
    const line = out.split('\n').find((l) => l.startsWith('{"bench":"wrk"'));
    if (code !== 0 || !line) throw new Error(`wrk failed (${code}): ${out.slice(-1_000)}`);
    const r = JSON.parse(line) as Record<string, number>;
    const seconds = (r.durationUs as number) / 1e6;
    return {
      generator: `wrk -t1 -c${spec.connections}`,
      requests: r.requests as number,
      seconds,
      rps: (r.requests as number) / seconds,
      p50: (r.p50Us as number) / 1000,
      p99: (r.p99Us as number) / 1000,
      max: (r.maxUs as number) / 1000,
      errors: r.errors as number,
      bytes: r.bytes as number,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The same load from Node: `connections` loops over a keep-alive undici pool for a fixed duration. */
export async function runUndici(spec: LoadSpec): Promise<LoadResult> {
  const pool = new Pool(spec.origin, { connections: spec.connections, pipelining: 1 });
  const latencies: number[] = [];
  let errors = 0;
  let bytes = 0;
  const started = performance.now();
  const end = started + spec.seconds * 1000;
  let next = 0;
  try {
    await Promise.all(
      Array.from({ length: spec.connections }, async () => {
        while (performance.now() < end) {
          const path = spec.paths[next++ % spec.paths.length] as string;
          const t = performance.now();
          try {
            const res = await pool.request({ path, method: 'GET' });
            const body = await res.body.arrayBuffer();
            bytes += body.byteLength;
            if (res.statusCode !== 200) errors++;
          } catch {
            errors++;
          }
          latencies.push(performance.now() - t);
        }
      }),
    );
  } finally {
    await pool.close();
  }
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    generator: `undici, ${spec.connections} connections`,
    requests: latencies.length,
    seconds,
    rps: latencies.length / seconds,
    p50: quantile(latencies, 0.5) ?? 0,
    p99: quantile(latencies, 0.99) ?? 0,
    max: latencies.at(-1) ?? 0,
    errors,
    bytes,
  };
}
