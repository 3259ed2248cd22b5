import type { Server } from '@grpc/grpc-js';
import type { PackageDefinition } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { DESCRIPTOR_SET_BASE64 } from '../gen/descriptor-set.js';

/** The raw FileDescriptorProtos of the buf-compiled descriptor set (field 1 of FileDescriptorSet). */
export function fileDescriptorProtos(): Buffer[] {
  const reader = new BinaryReader(Buffer.from(DESCRIPTOR_SET_BASE64, 'base64'));
  const files: Buffer[] = [];
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1 && wireType === WireType.LengthDelimited) files.push(Buffer.from(reader.bytes()));
    else reader.skip(wireType);
  }
  return files;
}

/**
 * Server reflection (v1 and v1alpha) for ChittyIdService and the health service, so grpcurl and
 * ghz work without a copy of the proto. @grpc/reflection serves whatever fileDescriptorProtos it
 * is given; we give it buf's compiled descriptors rather than proto-loader's reconstruction,
 * which Go clients reject (map entry names, unresolved google.protobuf.Timestamp).
 */
export function addReflection(server: Server): void {
  const definition = {
    'chittyid.descriptors': { format: 'Protocol Buffer 3 FileDescriptorProto', type: {}, fileDescriptorProtos: fileDescriptorProtos() },
  } as unknown as PackageDefinition;
  new ReflectionService(definition).addToServer(server);
}
