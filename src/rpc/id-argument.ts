import { invalidArgument } from '../errors.js';
import { parseId } from '../minting/id-format.js';

/** Checks the `id` field of Resolve and Revoke: required and a well-formed ChittyID. */
export function requireWellFormedId(id: string): string {
  if (id === '') throw invalidArgument('id', 'is required');
  const parsed = parseId(id);
  if (!parsed.valid) throw invalidArgument('id', `is not a valid ChittyID (${parsed.reason})`);
  return id;
}
