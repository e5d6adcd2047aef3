#!/usr/bin/env sh
# Compiles native/sqlite-guard.c into dist/native/sqlite-guard.so against the
# SQLite headers better-sqlite3 ships (the extension runs inside its SQLite).
# Run by `npm run build`; needs a C compiler, as isolated-vm's install does.
set -eu
cd "$(dirname "$0")/.."
out=dist/native/sqlite-guard.so
src=native/sqlite-guard.c
inc=node_modules/better-sqlite3/deps/sqlite3
if [ -f "$out" ] && [ "$out" -nt "$src" ] && [ "$out" -nt "$inc/sqlite3ext.h" ]; then exit 0; fi
mkdir -p dist/native
${CC:-cc} -O2 -fPIC -shared -Wall -Wextra -Werror -I "$inc" "$src" -o "$out.tmp"
mv "$out.tmp" "$out"
