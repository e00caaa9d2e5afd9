import { Agent, request } from 'undici';

/** One connection pool for all simulated pods of a design: up to 2,000 sockets, like 2,000 separate pods. */
export function podAgent(): Agent {
  return new Agent({ connections: 2_000, pipelining: 0, keepAliveTimeout: 60_000 });
}

export interface Fetched {
  status: number;
  body: string;
}

/** GET with a pod's User-Agent; network errors become status 0 (a pod would log and go on). */
export async function get(agent: Agent, url: string, caller: string): Promise<Fetched> {
  try {
    const res = await request(url, {
      dispatcher: agent,
      headers: { 'user-agent': 'predbat/1.0', 'x-sim-caller': caller },
    });
    return { status: res.statusCode, body: await res.body.text() };
  } catch {
    return { status: 0, body: '' };
  }
}
