import pino, { type Logger } from "pino";

export type { Logger };

/** Structured logs: one JSON object a line on stdout. */
export function createLogger(level = "info"): Logger {
  return pino({ level, base: { service: "vmsystem" }, timestamp: pino.stdTimeFunctions.isoTime });
}
