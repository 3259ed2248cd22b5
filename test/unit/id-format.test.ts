import { describe, expect, it } from 'vitest';
import { parseId } from '../../src/minting/id-format.js';
import { formatId, yymmOf } from '../../src/minting/id-writer.js';

describe('parseId', () => {
  it.each(['03-1-USA-4448-P-2609-0-88', '04-1-USA-493027518264-P-2612-0-90'])('accepts the SPEC test vector %s', (id) => {
    const r = parseId(id);
    expect(r).toMatchObject({ valid: true, reason: 'OK' });
  });

  it('returns the parsed components of a v04 ID', () => {
    expect(parseId('04-1-USA-493027518264-P-2612-0-90').id).toEqual({
      version: '04', region: 1, jurisdiction: 'USA', sequence: '493027518264', entityType: 'P',
      yymm: '2612', trustLevel: 0, checksum: '90',
    });
  });

  it.each([
    ['', 'MALFORMED'],
    ['hello', 'MALFORMED'],
    ['04-1-USA-49302751826-P-2612-0-90', 'MALFORMED'], // 11-digit sequence
    ['03-1-USA-493027518264-P-2612-0-90', 'MALFORMED'], // v03 with a v04 sequence
    ['04-1-usa-493027518264-P-2612-0-90', 'MALFORMED'],
    ['04-1-USA-493027518264-P-2612-0-90 ', 'MALFORMED'],
    [`04-1-USA-${'1'.repeat(80)}-P-2612-0-90`, 'MALFORMED'],
    ['05-1-USA-493027518264-P-2612-0-90', 'UNSUPPORTED_VERSION'],
    ['99-anything', 'UNSUPPORTED_VERSION'],
    ['04-1-USA-493027518264-P-2612-0-91', 'BAD_CHECKSUM'],
    ['04-1-USA-493027518265-P-2612-0-90', 'BAD_CHECKSUM'],
  ])('%j → %s', (id, reason) => {
    expect(parseId(id)).toMatchObject({ valid: false, reason });
  });

  const withChecksum = (body: Omit<Parameters<typeof formatId>[0], never>) => formatId(body);
  const base = { version: '04', region: 1, jurisdiction: 'USA', sequence: '493027518264', entityType: 'P' as const, yymm: '2612', trustLevel: 0 };

  it('reports rule failures on well-formed IDs with a correct checksum, with the components', () => {
    expect(parseId(withChecksum({ ...base, entityType: 'X' as never }))).toMatchObject({ valid: false, reason: 'BAD_ENTITY_TYPE', id: { entityType: 'X' } });
    expect(parseId(withChecksum({ ...base, yymm: '2613' }))).toMatchObject({ valid: false, reason: 'BAD_DATE' });
    expect(parseId(withChecksum({ ...base, yymm: '2600' }))).toMatchObject({ valid: false, reason: 'BAD_DATE' });
    expect(parseId(withChecksum({ ...base, trustLevel: 6 }))).toMatchObject({ valid: false, reason: 'BAD_TRUST_LEVEL' });
    expect(parseId(withChecksum({ ...base, jurisdiction: 'ZZZ' }))).toMatchObject({ valid: false, reason: 'UNKNOWN_JURISDICTION' });
    expect(parseId(withChecksum({ ...base, region: 3 }))).toMatchObject({ valid: false, reason: 'REGION_MISMATCH', id: { region: 3 } });
    expect(parseId(withChecksum({ ...base, region: 8, jurisdiction: 'XIW' }))).toMatchObject({ valid: true });
    expect(parseId(withChecksum({ ...base, region: 9, jurisdiction: 'XDG' }))).toMatchObject({ valid: true });
  });
});

describe('formatId', () => {
  it('reproduces the SPEC v04 vector', () => {
    expect(formatId({ version: '04', region: 1, jurisdiction: 'USA', sequence: '493027518264', entityType: 'P', yymm: '2612', trustLevel: 0 }))
      .toBe('04-1-USA-493027518264-P-2612-0-90');
  });
});

describe('yymmOf', () => {
  it('uses UTC, not local time', () => {
    expect(yymmOf(Date.UTC(2026, 11, 31, 23, 59, 59))).toBe('2612');
    expect(yymmOf(Date.UTC(2027, 0, 1, 0, 0, 0))).toBe('2701');
    expect(yymmOf(Date.UTC(2009, 4, 1))).toBe('0905');
  });
});

describe('mintedComponents', () => {
  it('reads the same components as the parser from a minted v04 ID', async () => {
    const { mintedComponents } = await import('../../src/minting/id-writer.js');
    for (const id of ['04-1-USA-493027518264-P-2612-0-90', formatId({ version: '04', region: 9, jurisdiction: 'XDG', sequence: '000000000007', entityType: 'A', yymm: '0901', trustLevel: 5 })]) {
      expect(mintedComponents(id)).toEqual(parseId(id).id);
    }
  });
});
