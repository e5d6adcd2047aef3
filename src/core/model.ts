/**
 * The domain model: plain data shared by core, store and transport. No grpc
 * or proto types here; transport/codec.ts translates to and from the wire.
 */

export interface Limits {
  cpuMs: number;
  wallMs: number;
  memMb: number;
  maxEvents: number;
  maxOutputKb: number;
}

export interface ResolverSettings {
  roots: string[];
  extensions: string[];
  allowAbsoluteRepoImports: boolean;
}

export interface RuntimeSettings {
  esm: boolean;
  strict: boolean;
  console: boolean;
}

export interface TemplateSettings {
  limits: Limits;
  resolver: ResolverSettings;
  runtime: RuntimeSettings;
}

/** Settings as a request states them: every field may be absent. */
export interface PartialSettings {
  limits?: Partial<Limits>;
  resolver?: Partial<ResolverSettings>;
  runtime?: Partial<RuntimeSettings>;
}

export type StartupMode = "eval" | "module";

export interface StartupFile {
  id: string;
  templateId: string;
  path: string;
  orderIndex: number;
  mode: StartupMode;
  createdAt: number;
}

export const CAPABILITY_KINDS = ["module", "global", "fs", "net", "env"] as const;
export type CapabilityKind = (typeof CAPABILITY_KINDS)[number];

export interface Capability {
  id: string;
  templateId: string;
  kind: CapabilityKind;
  name: string;
  enabled: boolean;
  config: Record<string, unknown>;
  createdAt: number;
}

export interface TemplateModule {
  templateId: string;
  name: string;
  createdAt: number;
}

export interface TemplateLibrary {
  templateId: string;
  name: string;
  version: string;
  createdAt: number;
}

export interface Template {
  id: string;
  name: string;
  engine: string;
  settings: TemplateSettings;
  startupFiles: StartupFile[];
  capabilities: Capability[];
  modules: TemplateModule[];
  libraries: TemplateLibrary[];
  createdAt: number;
  updatedAt: number;
}

/** What a session needs of its template, frozen when the session starts. */
export type TemplateSnapshot = Omit<Template, "createdAt" | "updatedAt">;

export type SessionStatus = "STARTING" | "READY" | "CLOSED" | "CRASHED";
export type ExecutionKind = "REPL" | "RUN_FILE" | "STARTUP";
export type ExecutionStatus = "RUNNING" | "OK" | "ERROR" | "TIMEOUT" | "CANCELLED";
export type EventType = "INPUT_ECHO" | "CONSOLE" | "VALUE" | "EXCEPTION" | "SYSTEM";

export interface ValueDescription {
  type: string;
  preview: string;
  /** Present only when a JSON round trip is lossless (may be null). */
  json?: unknown;
}

export interface Page<T> {
  items: T[];
  nextPageToken: string;
}
