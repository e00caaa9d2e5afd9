import { type SimOptions, type Simulator, startSimulator } from '../src/index.js';

/** A simulator on an ephemeral port with a frozen clock. */
export function startFrozen(start: string, opts: SimOptions = {}): Promise<Simulator> {
  return startSimulator({ port: 0, speed: 0, start, ...opts });
}

export interface Page {
  count: number;
  next: string | null;
  previous: string | null;
  results: Row[];
}

export interface Row {
  value_exc_vat: number;
  value_inc_vat: number;
  valid_from: string;
  valid_to: string | null;
  payment_method: string | null;
}

export async function getJson<T = Page>(
  url: string,
  init?: RequestInit,
): Promise<{ status: number; body: T; headers: Headers }> {
  const r = await fetch(url, init);
  const text = await r.text();
  return { status: r.status, body: JSON.parse(text) as T, headers: r.headers };
}

export async function admin<T = unknown>(
  sim: Simulator,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const r = await fetch(`${sim.url}${path}`, {
    method,
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  if (!r.ok) throw new Error(`${method} ${path} → ${r.status} ${await r.text()}`);
  return (await r.json()) as T;
}

export const AGILE = '/v1/products/AGILE-24-10-01/electricity-tariffs/E-1R-AGILE-24-10-01-K';
export const FLEX = '/v1/products/VAR-22-11-01/electricity-tariffs';

/** Polls `probe` until it returns true or `timeoutMs` passes. */
export async function until(probe: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
