import { getCountryDataList } from 'countries-list';

/** Region digits of SPEC §1, keyed by the continent codes of the countries-list dataset. */
const REGION_BY_CONTINENT: Readonly<Record<string, number>> = {
  NA: 1, SA: 2, EU: 3, AS: 4, AF: 5, OC: 6, AN: 7,
};

/** Jurisdictions outside ISO 3166-1 that SPEC §1 defines. */
const SPECIAL_REGIONS: Readonly<Record<string, number>> = { XIW: 8, XDG: 9 };

// The dataset also lists codes that are not ISO 3166-1 alpha-3 assignments: user-assigned X…
// codes (Kosovo's XKX) and the exceptionally reserved AC (Ascension) and TA (Tristan da Cunha).
const NOT_ISO_3166_1_ALPHA2 = new Set(['AC', 'TA']);

// Built once from the maintained dataset, so new or renamed countries arrive with an npm update.
const REGION_BY_ALPHA3: ReadonlyMap<string, number> = new Map([
  ...getCountryDataList()
    .filter((c) => /^[A-WYZ][A-Z]{2}$/.test(c.iso3) && !NOT_ISO_3166_1_ALPHA2.has(c.iso2))
    .map((c) => [c.iso3, REGION_BY_CONTINENT[c.continent]] as const)
    .filter((e): e is readonly [string, number] => e[1] !== undefined),
  ...Object.entries(SPECIAL_REGIONS),
]);

/**
 * Upper-cases a three-letter ASCII code and leaves anything else as it is: toUpperCase() on other
 * text would turn 'ſ' into 'S' and 'ı' into 'I', so "uſa" would pass as USA.
 */
export function normalizeJurisdiction(input: string): string {
  return /^[a-zA-Z]{3}$/.test(input) ? input.toUpperCase() : input;
}

/** True for an ISO 3166-1 alpha-3 code known to the dataset, or XIW / XDG. */
export function isKnownJurisdiction(code: string): boolean {
  return REGION_BY_ALPHA3.has(code);
}

/** The region digit (1-9) of a jurisdiction, or undefined when the jurisdiction is unknown. */
export function regionOf(code: string): number | undefined {
  return REGION_BY_ALPHA3.get(code);
}

/** Number of jurisdictions known (for tests and diagnostics). */
export const jurisdictionCount = (): number => REGION_BY_ALPHA3.size;
