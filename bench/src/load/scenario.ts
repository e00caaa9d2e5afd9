/** The day every design is run over, and the tariffs pods are spread across. */

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;

/** A pod's tariff: product and tariff code, and whether it is an Agile tariff whose next day we time. */
export interface PodTariff {
  product: string;
  tariff: string;
  agile: boolean;
  fuel: 'electricity' | 'gas';
}

const AGILE_REGIONS = ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'J', 'K', 'L', 'M', 'N', 'P'];

/** 14 Agile import tariffs, Agile Outgoing in 3 regions, and Go in 3: 20 tariffs in all. */
export const TARIFFS: PodTariff[] = [
  ...AGILE_REGIONS.map((r) => ({
    product: 'AGILE-24-10-01',
    tariff: `E-1R-AGILE-24-10-01-${r}`,
    agile: true,
    fuel: 'electricity' as const,
  })),
  ...['A', 'C', 'M'].map((r) => ({
    product: 'AGILE-OUTGOING-19-05-13',
    tariff: `E-1R-AGILE-OUTGOING-19-05-13-${r}`,
    agile: true,
    fuel: 'electricity' as const,
  })),
  ...['A', 'C', 'M'].map((r) => ({
    product: 'GO-VAR-22-10-14',
    tariff: `E-1R-GO-VAR-22-10-14-${r}`,
    agile: false,
    fuel: 'electricity' as const,
  })),
];

/** Pod i's tariffs: one import tariff (Agile in 14 regions or Go), plus Agile Outgoing for every third pod. */
export function podTariffs(i: number): PodTariff[] {
  const imports = TARIFFS.filter((t) => !t.product.startsWith('AGILE-OUTGOING'));
  const exports = TARIFFS.filter((t) => t.product.startsWith('AGILE-OUTGOING'));
  const out = [imports[i % imports.length] as PodTariff];
  if (i % 3 === 0) out.push(exports[Math.floor(i / 3) % exports.length] as PodTariff);
  return out;
}

/** The distinct tariffs a fleet of `pods` pods uses. */
export function fleetTariffs(pods: number): PodTariff[] {
  const seen = new Map<string, PodTariff>();
  for (let i = 0; i < pods; i++) for (const t of podTariffs(i)) seen.set(t.tariff, t);
  return [...seen.values()];
}

export interface DayWindow {
  /** Simulated start (UK midnight of the day). */
  start: number;
  /** Simulated end. */
  end: number;
  /** When the simulator publishes the next Agile day (16:00 UK + delay). */
  publication: number;
  /** End of the next Agile day: a pod holds "the next day" when its rows reach this. */
  nextDayEnd: number;
}

/**
 * The benchmark day: 2026-11-26 (GMT, so UK time = UTC), midnight to midnight, Agile publication at
 * 16:00 + `delayMinutes`. Quick mode runs 14:00–18:00 only.
 */
export function dayWindow(quick: boolean, delayMinutes: number): DayWindow {
  const midnight = Date.parse('2026-11-26T00:00:00Z');
  const publication = midnight + 16 * HOUR + delayMinutes * MINUTE;
  return {
    start: quick ? midnight + 14 * HOUR : midnight,
    end: quick ? midnight + 18 * HOUR : midnight + 24 * HOUR,
    publication,
    nextDayEnd: midnight + 47 * HOUR,
  };
}
