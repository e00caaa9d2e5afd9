import { type Credentials, RateClient } from '@ratebus/client';
import type { Login } from './nats.js';

export interface PodSpec {
  readonly name: string;
  readonly tariffs: ReadonlyArray<{ product: string; tariff: string }>;
}

/** A few pods, as a SaaS would run them: most on configured tariffs, pod-4 on one nobody configured. */
export const PODS: PodSpec[] = [
  { name: 'pod-1', tariffs: [{ product: 'AGILE-24-10-01', tariff: 'E-1R-AGILE-24-10-01-C' }] },
  {
    name: 'pod-2',
    tariffs: [
      { product: 'AGILE-24-10-01', tariff: 'E-1R-AGILE-24-10-01-C' },
      { product: 'AGILE-OUTGOING-19-05-13', tariff: 'E-1R-AGILE-OUTGOING-19-05-13-C' },
    ],
  },
  { name: 'pod-3', tariffs: [{ product: 'GO-VAR-22-10-14', tariff: 'E-1R-GO-VAR-22-10-14-C' }] },
  // Not in the fetchers' config: fetched on demand through a refresh request, then kept by interest.
  { name: 'pod-4', tariffs: [{ product: 'SILVER-25-09-02', tariff: 'E-1R-SILVER-25-09-02-H' }] },
];

const RETRY_MS = 3_000;

/** The demo's pods: one `RateClient` each, with pod credentials, ensuring their tariffs until they hold them. */
export class Pods {
  readonly clients = new Map<string, RateClient>();
  #stopped = false;

  async start(servers: string[], login: Login, now: () => number): Promise<void> {
    const credentials: Credentials | undefined = login ? { user: login.user, pass: login.pass } : undefined;
    for (const spec of PODS) {
      const client = await RateClient.connect({
        servers,
        ...(credentials ? { credentials } : {}),
        name: `ratebus-demo-${spec.name}`,
        // A pod follows only its own tariffs (no JetStream consumer; docs/scale.md).
        sync: 'tariffs',
        tariffs: spec.tariffs,
        now,
        resyncIntervalMs: 5_000,
      });
      this.clients.set(spec.name, client);
      for (const t of spec.tariffs) void this.#ensure(client, t.product, t.tariff);
    }
  }

  /** Keeps asking until the tariff is held: fetchers may still be starting or electing. */
  async #ensure(client: RateClient, product: string, tariff: string): Promise<void> {
    while (!this.#stopped && !client.get(product, tariff)) {
      try {
        await client.ensure(product, tariff, { timeoutMs: 10_000 });
      } catch {
        await new Promise((r) => setTimeout(r, RETRY_MS));
      }
    }
  }

  /** True when every pod holds every one of its tariffs. */
  allHeld(): boolean {
    return PODS.every((p) => p.tariffs.every((t) => this.clients.get(p.name)?.get(t.product, t.tariff)));
  }

  async close(): Promise<void> {
    this.#stopped = true;
    await Promise.all([...this.clients.values()].map((c) => c.close()));
  }
}
