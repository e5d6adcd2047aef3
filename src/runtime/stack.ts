/**
 * Stacks shown to clients hold only the sandbox's own frames: errors that
 * crossed isolated-vm continue past an `<isolated-vm boundary>` line into host
 * frames (server paths), and the runtime's prelude frames are noise.
 */
export const PRELUDE_FILENAME = "vmsystem:runtime";

export function cutStack(stack: string): string {
  const lines = stack.split("\n");
  const boundary = lines.findIndex((line) => line.includes("<isolated-vm boundary>"));
  const kept = boundary === -1 ? lines : lines.slice(0, boundary);
  return kept.filter((line, i) => i === 0 || !line.includes(PRELUDE_FILENAME)).join("\n");
}
