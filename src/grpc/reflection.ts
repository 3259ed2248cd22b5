import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Server } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { protoPath as healthProtoPath } from 'grpc-health-check';

/** The contract file, found by walking up from this module (works from src/ and from dist/src/). */
export function chittyIdProtoPath(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const candidate = join(dir, 'proto', 'chittyid', 'v1', 'chittyid.proto');
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) throw new Error('proto/chittyid/v1/chittyid.proto not found next to the service');
  }
}

/**
 * Server reflection for ChittyIdService and the health service, so grpcurl and ghz work
 * without a copy of the proto. proto-loader is the loader @grpc/reflection is built on.
 */
export function addReflection(server: Server): void {
  const definition = loadSync([chittyIdProtoPath(), healthProtoPath], {
    keepCase: true, longs: String, enums: String, defaults: true, oneofs: true,
  });
  new ReflectionService(definition).addToServer(server);
}
