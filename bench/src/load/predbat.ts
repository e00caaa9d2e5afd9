import type { PodTariff } from './scenario.js';

/** What a pod keeps of one fetch: the end of the newest unit-rate row. */
export interface PodView {
  newestEnd: number;
}

/** A GET through whatever the design puts in front of upstream (nothing, or a file cache). */
export type Getter = (url: string) => Promise<string | null>;

interface Page {
  next: string | null;
  results: Array<{ valid_to: string | null }>;
}

export function ratesUrl(base: string, t: PodTariff, endpoint: string): string {
  const kind = t.fuel === 'gas' ? 'gas-tariffs' : 'electricity-tariffs';
  return `${base}/v1/products/${t.product}/${kind}/${t.tariff}/${endpoint}/`;
}

/**
 * PredBat's URL-mode fetch (docs/clients-in-the-wild.md §1.2): the bare standard-unit-rates URL, following `next`
 * for at most 3 pages (300 rows), then the standing charges. No period parameters, no retries.
 */
export async function predbatFetch(base: string, t: PodTariff, getter: Getter): Promise<PodView | null> {
  let url: string | null = ratesUrl(base, t, 'standard-unit-rates');
  let pages = 0;
  let newestEnd = 0;
  while (url && pages < 3) {
    const body = await getter(url);
    if (body === null) return null;
    const page = JSON.parse(body) as Page;
    for (const r of page.results) if (r.valid_to) newestEnd = Math.max(newestEnd, Date.parse(r.valid_to));
    url = page.next;
    pages++;
  }
  await getter(ratesUrl(base, t, 'standing-charges'));
  return { newestEnd };
}
