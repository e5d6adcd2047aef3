#!/usr/bin/env bash
# Regenerates the Python stubs in examples/python/gen/ from proto/.
#
#   examples/python/generate.sh          write examples/python/gen/
#   examples/python/generate.sh --check  regenerate into a temp dir and fail
#                                        (exit 1) if gen/ differs from it
#
# Needs buf (node_modules/.bin/buf after `npm ci`, or buf on PATH), protoc and
# grpc_python_plugin on PATH. On Debian/Ubuntu:
#   apt-get install protobuf-compiler protobuf-compiler-grpc
# The output depends on protoc's version: gen/ is committed as written by
# Debian bookworm's protoc 3.21.12 (the CI machine's).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

buf="$root/node_modules/.bin/buf"
[[ -x "$buf" ]] || buf=$(command -v buf) || { echo "generate.sh: buf not found (run npm ci)" >&2; exit 2; }
for tool in protoc grpc_python_plugin; do
  command -v "$tool" >/dev/null || { echo "generate.sh: $tool not found (apt-get install protobuf-compiler protobuf-compiler-grpc)" >&2; exit 2; }
done

# buf resolves imports (the well-known types included) from the workspace's
# buf.yaml at the root; -o is the base that the template's `out: gen` is under.
generate() { (cd "$root" && "$buf" generate --template "$here/buf.gen.yaml" -o "$1"); }

case "${1:-}" in
  "")
    generate "$here"
    echo "wrote $here/gen ($(protoc --version))"
    ;;
  --check)
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    generate "$tmp"
    if ! diff -r -x __pycache__ "$tmp/gen" "$here/gen"; then
      echo "examples/python/gen is stale: run examples/python/generate.sh and commit the result" >&2
      exit 1
    fi
    echo "examples/python/gen is up to date"
    ;;
  *)
    echo "usage: generate.sh [--check]" >&2
    exit 2
    ;;
esac
