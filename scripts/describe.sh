#!/usr/bin/env bash
# describe.sh: ask the server (through reflection) for a method's request
# shape, and print it as one JSON line.
#
#   scripts/describe.sh METHOD
#   scripts/describe.sh vmsystem.v1.SessionService/CreateSession
#   scripts/describe.sh SessionService/CreateSession | jq .template     # package defaults to vmsystem.v1
#
# Output: {"method", "requestType", "responseType", "clientStreaming",
# "serverStreaming", "fields": [{"name", "jsonName", "type", "label",
# "oneof"?, "enumValues"?}], "template": {…}}, where "template" is a request
# with every field set to its zero value (nested messages expanded), ready
# to edit and pass to rpc.sh.
#
# `buf curl` cannot describe (it only lists services and methods), so this
# script talks to the reflection service itself with a few lines of Node
# (@grpc/grpc-js and protobufjs from this repo's node_modules). Where those
# are missing and grpcurl is installed (or VMSYSTEM_GRPC_TOOL=grpcurl), it
# prints grpcurl's own `describe` text and message template instead.
# Server: $VMSYSTEM_SERVER (default 127.0.0.1:50051); see rpc.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/rpc.sh"

if [[ $# -ne 1 ]]; then
  echo "usage: describe.sh [package.]Service/Method" >&2
  exit 2
fi
# Accept Service/Method or Service.Method, with or without the package.
target=$1
if [[ $target != */* ]]; then target="${target%.*}/${target##*.}"; fi
if [[ ${target%%/*} != *.* ]]; then target="vmsystem.v1.$target"; fi
service=${target%%/*} method=${target##*/}

modules="$VMSYSTEM_SCRIPTS_DIR/../node_modules"
if [[ ${VMSYSTEM_GRPC_TOOL:-} != grpcurl ]] && command -v node >/dev/null 2>&1 && [[ -d $modules/@grpc/grpc-js && -d $modules/@grpc/proto-loader && -d $modules/protobufjs ]]; then
  REFLECTION_PROTO="$modules/@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto" \
    SERVICE=$service METHOD=$method NODE_PATH=$modules node - <<'EOF'
// A minimal reflection client: fetch the file that defines SERVICE and every
// file it depends on, build the types, describe METHOD's request.
const grpc = require("@grpc/grpc-js");
const loader = require("@grpc/proto-loader");
const protobuf = require("protobufjs");
const { FileDescriptorProto, FileDescriptorSet } = require("protobufjs/ext/descriptor");

const { VMSYSTEM_SERVER, VMSYSTEM_AUTH_TOKEN, VMSYSTEM_TLS_CA, SERVICE, METHOD, REFLECTION_PROTO } = process.env;
const fail = (message) => {
  process.stderr.write(JSON.stringify({ error: message }) + "\n");
  process.exit(1);
};

const definition = loader.loadSync(REFLECTION_PROTO, { keepCase: true, oneofs: true });
const Reflection = grpc.loadPackageDefinition(definition).grpc.reflection.v1.ServerReflection;
const credentials = VMSYSTEM_TLS_CA
  ? grpc.credentials.createSsl(require("node:fs").readFileSync(VMSYSTEM_TLS_CA))
  : grpc.credentials.createInsecure();
const client = new Reflection(VMSYSTEM_SERVER, credentials);
const metadata = new grpc.Metadata();
if (VMSYSTEM_AUTH_TOKEN) metadata.set("authorization", `Bearer ${VMSYSTEM_AUTH_TOKEN}`);

const files = new Map(); // name -> FileDescriptorProto
const requested = new Set();
let pending = 0;
const call = client.ServerReflectionInfo(metadata, { deadline: Date.now() + 30_000 });
const ask = (request) => {
  pending++;
  call.write(request);
};
call.on("data", (response) => {
  pending--;
  if (response.error_response) fail(`${SERVICE}: ${response.error_response.error_message}`);
  for (const bytes of response.file_descriptor_response.file_descriptor_proto) {
    const file = FileDescriptorProto.decode(bytes);
    files.set(file.name, file);
    for (const dep of file.dependency || []) {
      if (!files.has(dep) && !requested.has(dep)) {
        requested.add(dep);
        ask({ file_by_filename: dep });
      }
    }
  }
  if (pending === 0) call.end();
});
call.on("error", (err) => fail(`reflection: ${err.details || err.message}`));
call.on("end", () => {
  client.close();
  describe();
});
ask({ file_containing_symbol: SERVICE });

function describe() {
  const root = protobuf.Root.fromDescriptor(FileDescriptorSet.create({ file: [...files.values()] })).resolveAll();
  const service = root.lookupService(SERVICE);
  const method = service.methods[METHOD];
  if (!method) fail(`${SERVICE} has no method ${METHOD} (it has ${Object.keys(service.methods).join(", ")})`);
  const request = method.resolvedRequestType;
  const name = (type) => type.fullName.replace(/^\./, "");
  const fieldType = (f) => (f.resolvedType ? name(f.resolvedType) : f.type);
  const fields = request.fieldsArray.map((f) => ({
    name: f.name,
    jsonName: jsonName(f),
    type: mapEntry(f) ? `map<${mapEntry(f).key.type}, ${fieldType(mapEntry(f).value)}>` : fieldType(f),
    label: mapEntry(f) ? "map" : f.repeated ? "repeated" : "optional",
    ...(f.partOf && !f.partOf.name.startsWith("_") ? { oneof: f.partOf.name } : {}),
    ...(f.resolvedType instanceof protobuf.Enum ? { enumValues: Object.keys(f.resolvedType.values) } : {}),
  }));
  process.stdout.write(
    JSON.stringify({
      method: `${SERVICE}/${METHOD}`,
      requestType: name(request),
      responseType: name(method.resolvedResponseType),
      clientStreaming: Boolean(method.requestStream),
      serverStreaming: Boolean(method.responseStream),
      fields,
      template: template(request, new Set()),
    }) + "\n",
  );
}

// Built from descriptors, a map field is a repeated XxxEntry{key, value}
// message with the map_entry option: returns {key, value} for such a field.
function mapEntry(field) {
  const t = field.resolvedType;
  if (!field.repeated || !(t instanceof protobuf.Type) || !t.getOption("map_entry")) return undefined;
  return { key: t.fields.key, value: t.fields.value };
}

// protojson's name for a field: the descriptor's json_name, else lowerCamel.
function jsonName(field) {
  return field.options?.json_name ?? field.name.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());
}

// A message with every field at its zero value, as protojson.
function template(type, seen) {
  const wellKnown = {
    ".google.protobuf.Timestamp": "1970-01-01T00:00:00Z",
    ".google.protobuf.Duration": "0s",
    ".google.protobuf.FieldMask": "",
    ".google.protobuf.Struct": {},
    ".google.protobuf.Value": null,
    ".google.protobuf.ListValue": [],
    ".google.protobuf.Any": { "@type": "" },
  };
  if (type.fullName in wellKnown) return wellKnown[type.fullName];
  if (seen.has(type.fullName)) return {}; // a recursive message: stop here
  const inner = new Set(seen).add(type.fullName);
  const out = {};
  for (const f of type.fieldsArray) {
    const entry = mapEntry(f);
    out[jsonName(f)] = entry ? { "": zero(entry.value, inner) } : f.repeated ? [zero(f, inner)] : zero(f, inner);
  }
  return out;
}

function zero(field, seen) {
  if (field.resolvedType instanceof protobuf.Type) return template(field.resolvedType, seen);
  if (field.resolvedType instanceof protobuf.Enum) return Object.keys(field.resolvedType.values)[0];
  if (["int64", "uint64", "sint64", "fixed64", "sfixed64"].includes(field.type)) return "0";
  if (["double", "float", "int32", "uint32", "sint32", "fixed32", "sfixed32"].includes(field.type)) return 0;
  if (field.type === "bool") return false;
  return ""; // string, bytes (base64)
}
EOF
elif command -v grpcurl >/dev/null 2>&1; then
  # grpcurl describes natively (text, not JSON): the method, then its request
  # message with a JSON template.
  signature=$(grpcurl $(if [[ -n ${VMSYSTEM_TLS_CA:-} ]]; then echo -cacert "$VMSYSTEM_TLS_CA"; else echo -plaintext; fi) "$VMSYSTEM_SERVER" describe "$service.$method")
  echo "$signature"
  request=$(sed -n -E 's/^rpc [^(]*\( *(stream +)?\.?([A-Za-z0-9_.]+) *\).*/\2/p' <<<"$signature")
  grpcurl -plaintext -msg-template "$VMSYSTEM_SERVER" describe "$request"
else
  echo "describe.sh: needs node with this repo's node_modules (npm ci), or grpcurl" >&2
  exit 2
fi
