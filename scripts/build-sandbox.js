#!/usr/bin/env node
/**
 * Puts the sandbox's sources (src/runtime/sandbox/src/*.js: JavaScript that
 * runs inside each isolate, see src/runtime/sandbox/prelude.ts) beside the
 * compiled prelude in dist/, where it reads them; stale copies go first.
 * Plain JavaScript so that `npm run build` can run it before tsc.
 */
"use strict";
const { copyFileSync, mkdirSync, readdirSync, rmSync } = require("node:fs");
const { join } = require("node:path");

const root = join(__dirname, "..");
const from = join(root, "src", "runtime", "sandbox", "src");
const to = join(root, "dist", "src", "runtime", "sandbox", "src");

rmSync(to, { recursive: true, force: true });
mkdirSync(to, { recursive: true });
const files = readdirSync(from).filter((name) => name.endsWith(".js"));
for (const name of files) copyFileSync(join(from, name), join(to, name));
console.log(`sandbox: ${files.length} source files -> ${to}`);
