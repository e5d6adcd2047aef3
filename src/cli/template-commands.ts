import { Command, Option } from "commander";
import { AvailableLibrary, AvailableModule, Capability, Library, Module, StartupFile, Template, type TemplateSettings } from "../../gen/vmsystem/v1/template";
import { invoke, type Clients } from "./client";
import { clientAction, intArg } from "./context";
import { printFields, printJson, printTable, UsageError, type OutputMode } from "./output";

const SETTINGS_FLAGS: [flag: string, path: string, kind: "int" | "bool" | "list"][] = [
  ["--cpu-ms <n>", "limits.cpu_ms", "int"],
  ["--wall-ms <n>", "limits.wall_ms", "int"],
  ["--mem-mb <n>", "limits.mem_mb", "int"],
  ["--max-events <n>", "limits.max_events", "int"],
  ["--max-output-kb <n>", "limits.max_output_kb", "int"],
  ["--roots <dirs>", "resolver.roots", "list"],
  ["--extensions <exts>", "resolver.extensions", "list"],
  ["--allow-absolute-repo-imports <bool>", "resolver.allow_absolute_repo_imports", "bool"],
  ["--esm <bool>", "runtime.esm", "bool"],
  ["--strict <bool>", "runtime.strict", "bool"],
  ["--console <bool>", "runtime.console", "bool"],
  ["--wasm <bool>", "runtime.wasm", "bool"],
  ["--dedicated-host <bool>", "runtime.dedicated_host", "bool"],
];

const camel = (s: string) => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
const flagKey = (flag: string) => camel(flag.split(" ")[0].slice(2).replace(/-/g, "_"));

function parseBool(name: string, value: string): boolean {
  if (value === "true") return true;
  if (value === "false") return false;
  throw new UsageError(`${name} must be true or false, not "${value}"`);
}

function addSettingsFlags(cmd: Command): Command {
  for (const [flag, path] of SETTINGS_FLAGS)
    cmd.addOption(new Option(flag, `settings ${path}` + (flag.includes("<dirs>") || flag.includes("<exts>") ? " (comma-separated)" : "")));
  return cmd;
}

/** The settings the flags state, and the mask of the paths they name. */
function settingsFromFlags(opts: Record<string, string | undefined>): { settings: TemplateSettings; mask: string[] } {
  const settings: TemplateSettings = { limits: {}, resolver: { roots: [], extensions: [] }, runtime: {} };
  const mask: string[] = [];
  for (const [flag, path, kind] of SETTINGS_FLAGS) {
    const raw = opts[flagKey(flag)];
    if (raw === undefined) continue;
    const [section, field] = path.split(".") as [keyof TemplateSettings, string];
    const name = flag.split(" ")[0];
    const value = kind === "int" ? intArg(name)(raw) : kind === "bool" ? parseBool(name, raw) : raw.split(",").filter(Boolean);
    (settings[section] as Record<string, unknown>)[camel(field)] = value;
    mask.push(path);
  }
  return { settings, mask };
}

function showTemplate(t: Template, out: OutputMode): void {
  if (out === "json") return printJson(Template.toJSON(t));
  const s = t.settings;
  printFields([
    ["id", t.id],
    ["name", t.name],
    ["engine", t.engine],
    ["limits", s?.limits],
    ["resolver", s?.resolver],
    ["runtime", s?.runtime],
    ["startup files", t.startupFiles.map((f) => `${f.orderIndex}:${f.path} (${f.mode})`).join(", ")],
    ["capabilities", t.capabilities.map((c) => `${c.kind}:${c.name}${c.enabled ? "" : " (disabled)"}`).join(", ")],
    ["modules", t.modules.map((m) => m.name).join(", ")],
    ["libraries", t.libraries.map((l) => `${l.name}@${l.version}`).join(", ")],
    ["created", t.createdAt?.toISOString()],
    ["updated", t.updatedAt?.toISOString()],
  ]);
}

/** Prints a list in json (`{"items": […]}`) or as a table. */
function showList<T>(
  items: T[],
  out: OutputMode,
  toJSON: (t: T) => unknown,
  head: string[],
  row: (t: T) => (string | number | boolean)[],
  nextPageToken?: string,
): void {
  if (out === "json") {
    printJson(nextPageToken === undefined ? { items: items.map(toJSON) } : { items: items.map(toJSON), nextPageToken });
    return;
  }
  printTable(head, items.map(row));
  if (nextPageToken) process.stdout.write(`next page: --page-token ${nextPageToken}\n`);
}

function done(out: OutputMode): void {
  if (out === "json") printJson({});
}

export function templateCommand(): Command {
  const template = new Command("template").description("manage templates (runtime profiles)");

  addSettingsFlags(
    template
      .command("create")
      .description("create a template")
      .requiredOption("--name <name>", "template name")
      .option("--engine <engine>", "engine (only isolated-vm)"),
  ).action(
    clientAction(async (c, out, opts: Record<string, string>) => {
      const { settings } = settingsFromFlags(opts);
      const t = await invoke<Template>((cb) => c.templates.createTemplate({ name: opts.name, engine: opts.engine ?? "", settings }, c.metadata, cb));
      showTemplate(t, out);
    }),
  );

  template
    .command("get <template-id>")
    .description("show a template with its settings and sub-resources")
    .action(
      clientAction(async (c, out, id: string) =>
        showTemplate(await invoke<Template>((cb) => c.templates.getTemplate({ templateId: id }, c.metadata, cb)), out),
      ),
    );

  template
    .command("list")
    .description("list templates, newest first")
    .option("--page-size <n>", "templates per page", intArg("--page-size"))
    .option("--page-token <token>", "continue from a previous page")
    .option("--all", "follow every page")
    .action(
      clientAction(async (c, out, opts: { pageSize?: number; pageToken?: string; all?: boolean }) => {
        const items: Template[] = [];
        let pageToken = opts.pageToken ?? "";
        do {
          const page = await invoke<{ templates: Template[]; nextPageToken: string }>((cb) =>
            c.templates.listTemplates({ pageSize: opts.pageSize ?? 0, pageToken }, c.metadata, cb),
          );
          items.push(...page.templates);
          pageToken = page.nextPageToken;
        } while (opts.all && pageToken);
        showList(
          items,
          out,
          Template.toJSON,
          ["id", "name", "engine", "created"],
          (t) => [t.id, t.name, t.engine, t.createdAt?.toISOString() ?? ""],
          pageToken,
        );
      }),
    );

  template
    .command("delete <template-id>")
    .description("delete a template and its sub-resources")
    .action(
      clientAction(async (c, out, id: string) => {
        await invoke((cb) => c.templates.deleteTemplate({ templateId: id }, c.metadata, cb));
        if (out === "human") process.stdout.write(`deleted template ${id}\n`);
        else done(out);
      }),
    );

  addSettingsFlags(template.command("settings <template-id>").description("update settings (only the flags given)")).action(
    clientAction(async (c, out, id: string, opts: Record<string, string>) => {
      const { settings, mask } = settingsFromFlags(opts);
      if (mask.length === 0) throw new UsageError("name at least one setting to change (see --help)");
      const t = await invoke<Template>((cb) => c.templates.updateTemplateSettings({ templateId: id, settings, updateMask: mask }, c.metadata, cb));
      showTemplate(t, out);
    }),
  );

  const startup = template.command("startup").description("startup files run when a session starts");
  startup
    .command("add <template-id> <path>")
    .requiredOption("--order <n>", "order_index (ascending)", intArg("--order"))
    .addOption(new Option("--mode <mode>", "eval or module").default("eval"))
    .action(
      clientAction(async (c, out, templateId: string, path: string, opts: { order: number; mode: string }) => {
        const f = await invoke<StartupFile>((cb) => c.templates.addStartupFile({ templateId, path, orderIndex: opts.order, mode: opts.mode }, c.metadata, cb));
        if (out === "json") printJson(StartupFile.toJSON(f));
        else printTable(["id", "order", "path", "mode"], [[f.id, f.orderIndex, f.path, f.mode]]);
      }),
    );
  startup.command("list <template-id>").action(
    clientAction(async (c, out, templateId: string) => {
      const r = await invoke<{ startupFiles: StartupFile[] }>((cb) => c.templates.listStartupFiles({ templateId }, c.metadata, cb));
      showList(r.startupFiles, out, StartupFile.toJSON, ["id", "order", "path", "mode"], (x) => [x.id, x.orderIndex, x.path, x.mode]);
    }),
  );
  startup.command("remove <template-id> <startup-file-id>").action(
    clientAction(async (c, out, templateId: string, startupFileId: string) => {
      await invoke((cb) => c.templates.removeStartupFile({ templateId, startupFileId }, c.metadata, cb));
      done(out);
    }),
  );

  const capability = template.command("capability").description("grants of host access (module, global, fs, net, env)");
  capability
    .command("add <template-id>")
    .requiredOption("--kind <kind>", "module, global, fs, net or env")
    .requiredOption("--name <name>", "module or global name, else a label")
    .option("--config <json>", "kind-specific JSON object", "{}")
    .option("--disabled", "store it switched off")
    .action(
      clientAction(async (c, out, templateId: string, opts: { kind: string; name: string; config: string; disabled?: boolean }) => {
        let config: unknown;
        try {
          config = JSON.parse(opts.config);
        } catch {
          throw new UsageError("--config must be a JSON object");
        }
        if (typeof config !== "object" || config === null || Array.isArray(config)) throw new UsageError("--config must be a JSON object");
        const cap = await invoke<Capability>((cb) =>
          c.templates.addCapability(
            { templateId, kind: opts.kind, name: opts.name, enabled: !opts.disabled, config: config as Record<string, unknown> },
            c.metadata,
            cb,
          ),
        );
        showCapabilities([cap], out, true);
      }),
    );
  capability.command("list <template-id>").action(
    clientAction(async (c, out, templateId: string) => {
      const r = await invoke<{ capabilities: Capability[] }>((cb) => c.templates.listCapabilities({ templateId }, c.metadata, cb));
      showCapabilities(r.capabilities, out, false);
    }),
  );
  capability.command("remove <template-id> <capability-id>").action(
    clientAction(async (c, out, templateId: string, capabilityId: string) => {
      await invoke((cb) => c.templates.removeCapability({ templateId, capabilityId }, c.metadata, cb));
      done(out);
    }),
  );

  namedSubResource(template, "module", "host modules (require(name) in the sandbox)");
  namedSubResource(template, "library", "libraries loaded into the global scope");
  return template;
}

function showCapabilities(caps: Capability[], out: OutputMode, single: boolean): void {
  if (single && out === "json") return printJson(Capability.toJSON(caps[0]));
  showList(caps, out, Capability.toJSON, ["id", "kind", "name", "enabled", "config"], (x) => [x.id, x.kind, x.name, x.enabled, JSON.stringify(x.config ?? {})]);
}

/** `template module|library add|remove|list|available`: the same four commands over two RPC families. */
function namedSubResource(template: Command, kind: "module" | "library", description: string): void {
  const cmd = template.command(kind).description(description);
  const rpc = (c: Clients) =>
    kind === "module"
      ? {
          add: (req: { templateId: string; name: string }) => invoke<Module>((cb) => c.templates.addModule(req, c.metadata, cb)),
          remove: (req: { templateId: string; name: string }) => invoke((cb) => c.templates.removeModule(req, c.metadata, cb)),
          list: async (templateId: string) => (await invoke<{ modules: Module[] }>((cb) => c.templates.listModules({ templateId }, c.metadata, cb))).modules,
          available: async () => (await invoke<{ modules: AvailableModule[] }>((cb) => c.templates.listAvailableModules({}, c.metadata, cb))).modules,
        }
      : {
          add: (req: { templateId: string; name: string }) => invoke<Library>((cb) => c.templates.addLibrary(req, c.metadata, cb)),
          remove: (req: { templateId: string; name: string }) => invoke((cb) => c.templates.removeLibrary(req, c.metadata, cb)),
          list: async (templateId: string) =>
            (await invoke<{ libraries: Library[] }>((cb) => c.templates.listLibraries({ templateId }, c.metadata, cb))).libraries,
          available: async () => (await invoke<{ libraries: AvailableLibrary[] }>((cb) => c.templates.listAvailableLibraries({}, c.metadata, cb))).libraries,
        };
  const toJSON = (x: Module | Library) => (kind === "module" ? Module.toJSON(x as Module) : Library.toJSON(x as Library));
  const row = (x: Module | Library) => [x.name, "version" in x ? x.version : "", x.createdAt?.toISOString() ?? ""];
  cmd.command(`add <template-id> <name>`).action(
    clientAction(async (c, out, templateId: string, name: string) => {
      const added = await rpc(c).add({ templateId, name });
      if (out === "json") printJson(toJSON(added));
      else printTable(["name", "version", "added"], [row(added)]);
    }),
  );
  cmd.command(`remove <template-id> <name>`).action(
    clientAction(async (c, out, templateId: string, name: string) => {
      await rpc(c).remove({ templateId, name });
      done(out);
    }),
  );
  cmd
    .command(`list <template-id>`)
    .action(clientAction(async (c, out, templateId: string) => showList(await rpc(c).list(templateId), out, toJSON, ["name", "version", "added"], row)));
  cmd
    .command("available")
    .description(`${kind === "module" ? "modules" : "libraries"} a template may add`)
    .action(
      clientAction(async (c, out) => {
        const items = (await rpc(c).available()) as (AvailableModule | AvailableLibrary)[];
        const json = (x: AvailableModule | AvailableLibrary) => ("version" in x ? AvailableLibrary.toJSON(x) : AvailableModule.toJSON(x));
        showList(items, out, json, ["name", "version", "description"], (x) => [x.name, "version" in x ? x.version : "", x.description]);
      }),
    );
}
