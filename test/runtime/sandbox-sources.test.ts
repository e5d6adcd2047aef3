/**
 * The sandbox's sources (src/runtime/sandbox/src/*.js) and what joins them:
 * every file in the folder runs, every shared constant is declared for the
 * type checker, and the joined prelude is one well-formed function.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Script } from "node:vm";
import { describe, expect, it } from "vitest";
import * as shared from "../../src/runtime/sandbox/constants";
import { preludeSource, SANDBOX_SOURCE_DIR, SOURCE_FILES } from "../../src/runtime/sandbox/prelude";

describe("the sandbox's sources", () => {
  it("every .js file in the folder is part of the prelude, and only those", () => {
    const files = readdirSync(SANDBOX_SOURCE_DIR).filter((f) => f.endsWith(".js"));
    expect([...SOURCE_FILES].sort()).toEqual(files.sort());
  });

  it("every constant the host shares is declared for the sandbox's type check", () => {
    const declared = new Set([...readFileSync(join(SANDBOX_SOURCE_DIR, "host.d.ts"), "utf8").matchAll(/^declare const (\w+)/gm)].map((m) => m[1]));
    const exported = Object.keys(shared).filter((k) => typeof (shared as Record<string, unknown>)[k] !== "function");
    expect(exported.filter((k) => !declared.has(k))).toEqual([]);
  });

  it("joins into one function expression that compiles, declaring each constant once", () => {
    const source = preludeSource(["Object", "Array"]);
    expect(() => new Script(source, { filename: "prelude.js" })).not.toThrow();
    expect(source.startsWith("(function (")).toBe(true);
    for (const name of Object.keys(shared)) {
      expect(source.match(new RegExp(`^const ${name} = `, "gm")) ?? [], name).toHaveLength(1);
    }
  });
});
