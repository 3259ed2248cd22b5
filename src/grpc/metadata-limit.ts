import { ServerInterceptingCall, status, type Metadata, type ServerInterceptor } from '@grpc/grpc-js';

/** Request metadata size as gRPC counts it for max_metadata_size: key + value + 32 bytes per entry. */
export function metadataSize(metadata: Metadata): number {
  let size = 0;
  for (const [key, values] of Object.entries(metadata.toJSON())) {
    for (const value of values) size += key.length + value.length + 32;
  }
  return size;
}

/**
 * Enforces a request metadata limit. grpc-js ignores the `grpc.max_metadata_size` channel option
 * (only Node's HTTP/2 limits apply: ~64 KiB per header, 128 headers), so larger metadata is
 * refused here with RESOURCE_EXHAUSTED, as C-core does, before auth, handlers or logs see it.
 */
export function limitMetadataSize(maxBytes: number): ServerInterceptor {
  return (_method, call) => new ServerInterceptingCall(call, {
    start: (next) => next({
      onReceiveMetadata: (metadata, nextMetadata) => {
        const size = metadataSize(metadata);
        if (size > maxBytes) {
          call.sendStatus({ code: status.RESOURCE_EXHAUSTED, details: `request metadata is ${size} bytes, over the ${maxBytes}-byte limit` });
          return;
        }
        nextMetadata(metadata);
      },
    }),
  });
}
