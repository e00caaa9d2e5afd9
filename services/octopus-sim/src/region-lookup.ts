/** Region (GSP group) lookups the API offers: by postcode (`/v1/industry/grid-supply-points/`) and by MPAN. */
import { REGIONS, type Region } from '@ratebus/schema';

/** Postcode areas → GSP group (a coarse map; border postcodes are ignored). */
const AREAS: Record<Region, string[]> = {
  A: ['AL', 'CB', 'CM', 'CO', 'IP', 'LU', 'NR', 'PE', 'SG', 'SS', 'EN', 'WD', 'HP', 'MK'],
  B: ['DE', 'LE', 'LN', 'NG', 'NN'],
  C: ['E', 'EC', 'N', 'NW', 'SE', 'SW', 'W', 'WC'],
  D: ['CH', 'L', 'LL'],
  E: ['B', 'CV', 'DY', 'HR', 'ST', 'TF', 'WR', 'WS', 'WV'],
  F: ['DH', 'DL', 'NE', 'SR', 'TS'],
  G: ['BB', 'BL', 'CA', 'FY', 'LA', 'M', 'OL', 'PR', 'SK', 'WA', 'WN'],
  H: ['BH', 'GU', 'OX', 'PO', 'RG', 'SL', 'SN', 'SO', 'SP'],
  J: ['BN', 'BR', 'CR', 'CT', 'DA', 'KT', 'ME', 'RH', 'SM', 'TN', 'TW'],
  K: ['CF', 'LD', 'NP', 'SA'],
  L: ['BA', 'BS', 'DT', 'EX', 'GL', 'PL', 'TA', 'TQ', 'TR'],
  M: ['BD', 'DN', 'HD', 'HG', 'HU', 'HX', 'LS', 'S', 'WF', 'YO'],
  N: ['DG', 'EH', 'FK', 'G', 'KA', 'KY', 'ML', 'TD'],
  P: ['AB', 'DD', 'HS', 'IV', 'KW', 'PA', 'PH', 'ZE'],
};
const AREA_TO_GROUP = new Map<string, Region>(
  Object.entries(AREAS).flatMap(([g, areas]) => areas.map((a) => [a, g as Region] as const)),
);

/** GSP groups for a postcode (full, outward-only, any case, spaces optional); empty when unknown. */
export function groupsForPostcode(postcode: string | undefined): Region[] {
  if (postcode === undefined) return [...REGIONS];
  const pc = postcode.replace(/\s+/g, '').toUpperCase();
  const m = /^([A-Z]{1,2})\d[A-Z\d]?(?:\d[A-Z]{2})?$/.exec(pc);
  const group = m ? AREA_TO_GROUP.get(m[1] as string) : undefined;
  return group ? [group] : [];
}

/** Distributor MPAN prefix → GSP group (§2). */
const MPAN_PREFIX: Record<string, Region> = {
  '10': 'A',
  '11': 'B',
  '12': 'C',
  '13': 'D',
  '14': 'E',
  '15': 'F',
  '16': 'G',
  '20': 'H',
  '19': 'J',
  '21': 'K',
  '22': 'L',
  '23': 'M',
  '18': 'N',
  '17': 'P',
};

export function groupForMpan(mpan: string): Region | undefined {
  return /^\d{13}$/.test(mpan) ? MPAN_PREFIX[mpan.slice(0, 2)] : undefined;
}
