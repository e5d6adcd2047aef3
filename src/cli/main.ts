import { Command, CommanderError, Option } from "commander";
import { execCommand } from "./exec-commands";
import { opsCommand } from "./ops-commands";
import { EXIT } from "./output";
import { serveCommand } from "./serve";
import { sessionCommand } from "./session-commands";
import { templateCommand } from "./template-commands";

/** The `vmsystem` executable: the server and a client for every service. */
export function buildProgram(): Command {
  const program = new Command("vmsystem")
    .description("gRPC service hosting long-lived isolated JavaScript runtimes")
    // Read at run time from dist/src/cli: an import would compile package.json into dist/.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    .version(require("../../../package.json").version)
    .addOption(new Option("--server <host:port>", "server address").env("VMSYSTEM_SERVER"))
    .addOption(new Option("--output <mode>", "human or json").choices(["human", "json"]).default("human"))
    .addOption(new Option("--token <token>", "bearer token").env("VMSYSTEM_AUTH_TOKEN"))
    .addOption(new Option("--tls-ca <file>", "trust this CA (PEM) and connect with TLS"));
  program.addCommand(serveCommand());
  program.addCommand(templateCommand());
  program.addCommand(sessionCommand());
  program.addCommand(execCommand());
  program.addCommand(opsCommand());
  // Bad usage exits 2 (commander's default is 1, which scripts read as an RPC error).
  const exitOverride = (cmd: Command) => {
    cmd.exitOverride((err: CommanderError) => {
      if (err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.code === "commander.help") process.exit(EXIT.ok);
      process.exit(EXIT.usage);
    });
    cmd.commands.forEach(exitOverride);
  };
  exitOverride(program);
  return program;
}

if (require.main === module) {
  buildProgram()
    .parseAsync(process.argv)
    .catch((err: unknown) => {
      process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(EXIT.usage);
    });
}
