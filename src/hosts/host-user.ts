/**
 * `--host-user USER`: the account session hosts run as, so that the
 * operating system, not only the sandbox and its modules, keeps user code
 * away from the server's files (see store/data-source.ts for their modes).
 */
import { execFileSync } from "node:child_process";

export interface HostUser {
  name: string;
  uid: number;
  gid: number;
}

/**
 * Resolves USER (a name or a numeric uid) to the uid and primary gid the
 * hosts are forked with. Refuses what would not drop anything: a server
 * that is not root cannot setuid, with no hosts there is nothing to drop,
 * and root itself is no drop.
 */
export function resolveHostUser(user: string, sessionHosts: number): HostUser {
  if (sessionHosts <= 0) throw new Error(`--host-user needs --session-hosts N > 0: with --session-hosts 0 sessions run in the server's own process`);
  if (process.getuid?.() !== 0)
    throw new Error(`--host-user needs a server started as root (this one runs as uid ${process.getuid?.()}): only root can run its hosts as another user`);
  // A leading "-" would be read by id as an option.
  if (!/^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,63}$/.test(user)) throw new Error(`--host-user: invalid user "${user}"`);
  const id = (flag: string) => {
    try {
      return Number(execFileSync("id", [flag, user], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim());
    } catch {
      throw new Error(`--host-user: unknown user "${user}"`);
    }
  };
  const uid = id("-u");
  const gid = id("-g");
  if (!Number.isSafeInteger(uid) || !Number.isSafeInteger(gid)) throw new Error(`--host-user: cannot resolve "${user}"`);
  if (uid === 0 || gid === 0) throw new Error(`--host-user: "${user}" is root (uid ${uid}, gid ${gid}): hosts would keep root's rights`);
  return { name: user, uid, gid };
}

/** Run as the host user: exits 3 printing the first path it cannot read. */
const READ_CHECK =
  "const fs=require('fs');for(const p of process.argv.slice(1)){try{fs.accessSync(p,fs.constants.R_OK)}catch{process.stdout.write(p);process.exit(3)}}";

/**
 * Checks, as the host user, that node and the files a session host loads
 * are readable to it. A host that cannot read its code exits while starting
 * and every session placed on it fails with no reason given, so an install
 * the user cannot read (a checkout in a 0700 home or temp directory) is
 * refused at start, naming the path.
 */
export function checkHostUserReads(user: HostUser, paths: string[]): void {
  try {
    execFileSync(process.execPath, ["-e", READ_CHECK, ...paths], {
      uid: user.uid,
      gid: user.gid,
      env: { PATH: process.env.PATH ?? "" },
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 30_000,
    });
  } catch (err) {
    const unreadable = (err as { status?: number; stdout?: Buffer }).status === 3 ? String((err as { stdout: Buffer }).stdout) : undefined;
    if (unreadable)
      throw new Error(
        `--host-user: "${user.name}" cannot read ${unreadable}, which session hosts load: make the install readable to that user (its directories o+rx, its files o+r)`,
        { cause: err },
      );
    throw new Error(`--host-user: "${user.name}" cannot run node (${process.execPath}): ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}
