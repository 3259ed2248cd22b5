#!/usr/bin/env node
// Makes a new API key for CHITTYID_API_KEYS_FILE.
//
//   node scripts/make-api-key.mjs <principal> <scope>[,<scope>…] >> keys.txt
//
// stdout gets only the keys-file line (principal, SHA-256 of the token, scopes), so it can be
// appended straight to the file; the token itself goes to stderr, to hand to the client once.
// The service stores and compares only the hash, so a lost token cannot be recovered: make a new one.
import { createHash, randomBytes } from 'node:crypto';

const SCOPES = ['chittyid:mint', 'chittyid:read', 'chittyid:admin'];
const PRINCIPAL = /^[A-Za-z0-9._:@-]{1,128}$/;

function usage(problem) {
  if (problem) process.stderr.write(`make-api-key: ${problem}\n`);
  process.stderr.write(
    'usage: node scripts/make-api-key.mjs <principal> <scope>[,<scope>…]\n' +
      `  principal: 1-128 characters of A-Z a-z 0-9 . _ : @ -\n  scopes: ${SCOPES.join(', ')}\n`,
  );
  process.exit(problem ? 2 : 0);
}

const [principal, scopeList, ...extra] = process.argv.slice(2);
if (principal === '--help' || principal === '-h') usage();
if (principal === undefined || scopeList === undefined || extra.length > 0) usage('expected exactly two arguments');
if (!PRINCIPAL.test(principal)) usage(`bad principal "${principal}"`);
const scopes = [...new Set(scopeList.split(','))];
const unknown = scopes.filter((scope) => !SCOPES.includes(scope));
if (unknown.length > 0) usage(`unknown scope(s): ${unknown.join(', ')}`);

// 32 random bytes: 256 bits, far beyond guessing; base64url keeps it header- and shell-safe.
const token = randomBytes(32).toString('base64url');
const hash = createHash('sha256').update(token, 'utf8').digest('hex');

process.stderr.write(
  `token for ${principal} (give it to the client as "authorization: Bearer <token>"; it is not stored anywhere):\n` +
    `CHITTYID_TOKEN=${token}\n` +
    'line for CHITTYID_API_KEYS_FILE (printed on stdout):\n',
);
process.stdout.write(`${principal} ${hash} ${scopes.join(',')}\n`);
