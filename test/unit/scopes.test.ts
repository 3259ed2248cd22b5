import { describe, expect, it } from 'vitest';
import { isScope, SCOPES } from '../../src/auth/scopes.js';

describe('scopes', () => {
  it('lists exactly the three documented scopes', () => {
    expect([...SCOPES]).toEqual(['chittyid:mint', 'chittyid:read', 'chittyid:admin']);
  });

  it('recognises only those', () => {
    for (const scope of SCOPES) expect(isScope(scope)).toBe(true);
    for (const other of ['', 'chittyid:', 'chittyid:MINT', 'chittyid:write', ' chittyid:mint', 'toString']) {
      expect(isScope(other)).toBe(false);
    }
  });
});
