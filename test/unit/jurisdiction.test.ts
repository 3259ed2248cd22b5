import { describe, expect, it } from 'vitest';
import { isKnownJurisdiction, jurisdictionCount, regionOf } from '../../src/minting/jurisdiction.js';

describe('region from jurisdiction (countries-list dataset)', () => {
  it.each([
    ['USA', 1], ['CAN', 1], ['MEX', 1], ['BRA', 2], ['ARG', 2], ['GBR', 3], ['DEU', 3], ['FRA', 3],
    ['JPN', 4], ['IND', 4], ['CHN', 4], ['NGA', 5], ['EGY', 5], ['ZAF', 5], ['AUS', 6], ['NZL', 6],
    ['ATA', 7], ['XIW', 8], ['XDG', 9],
  ])('%s → region %i', (code, region) => {
    expect(regionOf(code)).toBe(region);
  });

  it('knows the ISO 3166-1 alpha-3 codes from the dataset, not a hand-typed table', () => {
    expect(jurisdictionCount()).toBeGreaterThanOrEqual(245);
    expect(isKnownJurisdiction('ALA')).toBe(true); // Åland: ISO code although part of Finland
  });

  it.each(['ZZZ', 'usa', 'US', 'XKX', 'ASC', ''])('rejects %j', (code) => {
    expect(isKnownJurisdiction(code)).toBe(false);
    expect(regionOf(code)).toBeUndefined();
  });
});
