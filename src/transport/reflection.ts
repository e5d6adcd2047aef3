import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Server } from "@grpc/grpc-js";
import { ReflectionService } from "@grpc/reflection";
import { FileDescriptorProto, FileDescriptorSet } from "protobufjs/ext/descriptor";

/**
 * Written by `npm run build` (`buf build`): the real descriptors of proto/,
 * imports included. Found beside the compiled code (dist/src/transport) or,
 * when running from source (tests), in dist/.
 */
const DESCRIPTOR_SET_PATH =
  [join(__dirname, "..", "..", "descriptor.binpb"), join(__dirname, "..", "..", "dist", "descriptor.binpb")].find(existsSync) ?? "dist/descriptor.binpb";

/**
 * Server reflection from buf's image rather than proto-loader: proto-loader
 * synthesises descriptors without dependency lists, which Go clients
 * (grpcurl, buf curl) cannot link (grpc-node issue 2595).
 */
export function addReflection(server: Server, path = DESCRIPTOR_SET_PATH): void {
  const set = FileDescriptorSet.decode(readFileSync(path)) as unknown as { file: unknown[] };
  const fileDescriptorProtos = set.file.map((file) => Buffer.from(FileDescriptorProto.encode(file as never).finish()));
  // @grpc/reflection reads `fileDescriptorProtos` from each entry of a package definition.
  const definition = { "vmsystem.descriptors": { fileDescriptorProtos } };
  new ReflectionService(definition as never).addToServer(server);
}
