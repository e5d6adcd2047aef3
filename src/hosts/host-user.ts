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
