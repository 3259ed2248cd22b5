/** A permission a bearer token can carry (SPEC §4). */
export type Scope = 'chittyid:mint' | 'chittyid:read' | 'chittyid:admin';

/** Every scope, in the order the documentation lists them. */
export const SCOPES: readonly Scope[] = Object.freeze(['chittyid:mint', 'chittyid:read', 'chittyid:admin'] as const);

const known: ReadonlySet<string> = new Set(SCOPES);

/** True when `value` is one of {@link SCOPES}; narrows untrusted text from the keys file. */
export function isScope(value: string): value is Scope {
  return known.has(value);
}
