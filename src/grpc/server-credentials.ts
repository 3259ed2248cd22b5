import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { ServerCredentials } from '@grpc/grpc-js';
import type { Config } from '../config.js';

function readPem(variable: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`${variable}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
  }
}

/** OpenSSL silently ignores text that is not PEM, so an empty or wrong file must be caught here. */
function pemOnly(variable: string, pem: Buffer, label: 'CERTIFICATE' | 'PRIVATE KEY'): Buffer {
  if (!new RegExp(`-----BEGIN [A-Z ]*${label}-----`).test(pem.toString('latin1'))) {
    throw new Error(`${variable}: no PEM ${label.toLowerCase()} found`);
  }
  return pem;
}

/** Runs OpenSSL over the PEM now, so a bad file stops startup naming its variable, not at bind. */
function check(variables: string, options: Parameters<typeof createSecureContext>[0]): void {
  try {
    createSecureContext(options);
  } catch (err) {
    throw new Error(`${variables}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * gRPC server credentials for the configured TLS: insecure when `tls` is undefined, TLS with the
 * given certificate chain and key otherwise, and mutual TLS (a client certificate signed by the
 * client CA is required) when `tls.clientCaFile` is set. Throws an Error naming the variable
 * (GRPC_TLS_CERT_FILE, GRPC_TLS_KEY_FILE, GRPC_TLS_CLIENT_CA_FILE) when a file is unreadable or invalid.
 */
export function createServerCredentials(tls: Config['tls']): ServerCredentials {
  if (tls === undefined) return ServerCredentials.createInsecure();

  const cert = readPem('GRPC_TLS_CERT_FILE', tls.certFile);
  const key = readPem('GRPC_TLS_KEY_FILE', tls.keyFile);
  const clientCa = tls.clientCaFile === undefined ? null : readPem('GRPC_TLS_CLIENT_CA_FILE', tls.clientCaFile);

  check('GRPC_TLS_CERT_FILE', { cert: pemOnly('GRPC_TLS_CERT_FILE', cert, 'CERTIFICATE') });
  check('GRPC_TLS_KEY_FILE', { key: pemOnly('GRPC_TLS_KEY_FILE', key, 'PRIVATE KEY') });
  check('GRPC_TLS_CERT_FILE/GRPC_TLS_KEY_FILE', { cert, key });
  if (clientCa !== null) check('GRPC_TLS_CLIENT_CA_FILE', { ca: pemOnly('GRPC_TLS_CLIENT_CA_FILE', clientCa, 'CERTIFICATE') });

  return ServerCredentials.createSsl(clientCa, [{ cert_chain: cert, private_key: key }], clientCa !== null);
}
