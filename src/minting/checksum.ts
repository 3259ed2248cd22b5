/**
 * The public ChittyID checksum (SPEC §1), kept for compatibility: an ISO 7064-style mod 97
 * over the first seven fields without hyphens, digits weighted 10 and letters (A=10 … Z=35) 100.
 */
export function checksumOf(body: string): string {
  let r = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body.charCodeAt(i);
    if (c >= 48 && c <= 57) r = (10 * r + (c - 48)) % 97;
    else if (c >= 65 && c <= 90) r = (100 * r + (c - 55)) % 97;
    else throw new RangeError(`checksum body may hold only 0-9 and A-Z, got "${body[i]}"`);
  }
  const xx = (98 - r) % 97;
  return xx < 10 ? `0${xx}` : String(xx);
}
