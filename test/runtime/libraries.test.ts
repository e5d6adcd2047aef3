import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AVAILABLE_MODULES, JS_BUILTIN_NAMES, LIBRARY_CATALOGUE, SessionRuntime } from "../../src/runtime";
import { options, repl, valueOf, runtimes } from "./helpers";

describe("libraries", () => {
  let rt: SessionRuntime;
  beforeAll(async () => {
    rt = await runtimes.create(options({ libraries: ["lodash", "dayjs", "ramda", "moment"] }));
  });
  afterAll(() => rt.dispose());

  const value = async (code: string) => valueOf((await repl(rt, code)).outcome).json;

  it("are usable from the global scope", async () => {
    expect(await value("_.chunk([1, 2, 3, 4], 2)")).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(await value("dayjs('2020-01-02T00:00:00Z').toISOString()")).toBe("2020-01-02T00:00:00.000Z");
    expect(await value("dayjs().isValid()")).toBe(true);
    expect(await value("R.add(1)(2)")).toBe(3);
    expect(await value("moment.utc('2020-01-02').format('YYYY/MM/DD')")).toBe("2020/01/02");
    expect(await value("moment.isMoment(moment())")).toBe(true);
  });

  it("are absent unless asked for, and unknown names are refused", async () => {
    const bare = await runtimes.create(options());
    try {
      expect(valueOf((await repl(bare, "[typeof _, typeof dayjs, typeof R, typeof moment]")).outcome).json).toEqual([
        "undefined",
        "undefined",
        "undefined",
        "undefined",
      ]);
    } finally {
      bare.dispose();
    }
    await expect(runtimes.create(options({ libraries: ["jquery"] }))).rejects.toMatchObject({ code: "INVALID_OPTIONS" });
    await expect(runtimes.create(options({ modules: ["net"] }))).rejects.toMatchObject({ code: "INVALID_OPTIONS" });
  });
});

describe("catalogue", () => {
  it("lists modules, libraries with installed versions, and JS built-ins", () => {
    expect(AVAILABLE_MODULES.map((m) => m.name)).toEqual(["fs", "path", "database", "exec"]);
    expect(JS_BUILTIN_NAMES).toEqual(["console", "math", "json", "date", "array", "string", "object", "promise"]);
    const installed = (pkg: string, file: string) =>
      (JSON.parse(readFileSync(join(dirname(require.resolve(`${pkg}/${file}`)), "package.json"), "utf8")) as { version: string }).version;
    expect(LIBRARY_CATALOGUE.map((l) => [l.name, l.globalName])).toEqual([
      ["lodash", "_"],
      ["dayjs", "dayjs"],
      ["ramda", "R"],
      ["moment", "moment"],
    ]);
    expect(LIBRARY_CATALOGUE.find((l) => l.name === "lodash")!.version).toBe(installed("lodash", "package.json"));
    expect(LIBRARY_CATALOGUE.find((l) => l.name === "moment")!.version).toBe(installed("moment", "package.json"));
  });
});
