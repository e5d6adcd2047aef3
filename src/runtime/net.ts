/**
 * The host side of the sandbox's `fetch` (the template's `net` capability).
 *
 * The sandbox builds a request from plain strings (see sandbox/src/net.js) and
 * sends it here; this module checks every host it would connect to against
 * the allow list first (the first URL and every redirect hop), makes the
 * request with node:http/https, reads the whole body (capped) and answers
 * with plain data. Failures become {name, message, code} records: no host
 * Error or stack ever reaches the sandbox.
 *
 * A name on the list is not enough: DNS (or /etc/hosts) decides where it
 * leads, so each hop's name is resolved once, every address it resolves to
 * is checked, and the connection goes only to the addresses that passed
 * (a lookup of our own hands them to the socket: no second resolution that
 * a rebinding DNS server could answer differently). A public address
 * passes; a special one (loopback, private, link-local, metadata, ...: see
 * net-address.ts) passes only when an entry names that address itself,
 * port included if the entry has one. A hop none of whose addresses pass
 * is denied.
 *
 * Allow-list entries: `host`, `host:port`, `*.domain` (subdomains only, not
 * the bare domain), `*.domain:port`, IPv4 literals and IPv6 literals (`::1`,
 * `[::1]`, `[::1]:8080`). Names compare case-insensitively, after the same
 * normalisation URLs get (so `127.1` means `127.0.0.1`). An entry without a
 * port allows every port; anything else is ignored.
 */
import http from "node:http";
import https from "node:https";
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { isIP, type LookupFunction } from "node:net";
import { pipeline, type Readable } from "node:stream";
import zlib from "node:zlib";
import { SandboxError, toErrorInfo, type SandboxErrorInfo } from "./modules/errors";
import { addressKey, specialAddress } from "./net-address";
import { NET_LIMITS } from "./sandbox/constants";

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** Request headers the sandbox may not set: framing and routing are the host's business. */
const FORBIDDEN_REQUEST_HEADERS = new Set([
  "host",
  "content-length",
  "transfer-encoding",
  "connection",
  "keep-alive",
  "upgrade",
  "te",
  "trailer",
  "expect",
  "proxy-connection",
  "proxy-authorization",
]);
const BODY_HEADERS = ["content-type", "content-encoding", "content-language", "content-location"];
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// eslint-disable-next-line no-control-regex
const BAD_VALUE = /[\u0000\r\n]|[^\u0000-\u00ff]/;
const FORBIDDEN_METHODS = new Set(["CONNECT", "TRACE", "TRACK"]);

interface HostRule {
  /** exact: the host itself; subdomain: any host ending in "." + host. */
  kind: "exact" | "subdomain";
  /** As URL#hostname shows it (IPv6 in brackets), without a trailing dot. */
  host: string;
  port?: number;
  /** For an IP literal: addressKey() of it. */
  address?: string;
}

/** Every address `hostname` (a name, not an IP literal) resolves to. */
export type NetResolver = (hostname: string) => Promise<LookupAddress[]>;

const systemResolver: NetResolver = (hostname) =>
  new Promise((resolve, reject) => dnsLookup(hostname, { all: true }, (e, addresses) => (e ? reject(e) : resolve(addresses))));

function stripDot(host: string): string {
  return host.endsWith(".") ? host.slice(0, -1) : host;
}

function unbracket(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

/** One allow_hosts entry, or undefined when it is not one this module understands. */
function parseHostRule(entry: unknown): HostRule | undefined {
  if (typeof entry !== "string") return undefined;
  let s = entry.trim().toLowerCase();
  if (s.length === 0 || s.length > 300) return undefined;
  let kind: HostRule["kind"] = "exact";
  if (s.startsWith("*.")) {
    kind = "subdomain";
    s = s.slice(2);
  }
  let host: string;
  let port: string | undefined;
  if (s.startsWith("[")) {
    const end = s.indexOf("]");
    if (end < 0) return undefined;
    host = s.slice(0, end + 1);
    const rest = s.slice(end + 1);
    if (rest !== "") {
      if (!rest.startsWith(":")) return undefined;
      port = rest.slice(1);
    }
  } else if (isIP(s) === 6) {
    host = `[${s}]`;
  } else {
    const colon = s.lastIndexOf(":");
    host = colon < 0 ? s : s.slice(0, colon);
    if (colon >= 0) port = s.slice(colon + 1);
  }
  if (port !== undefined && (!/^\d{1,5}$/.test(port) || Number(port) > 65535)) return undefined;
  if (host === "" || /[\s/\\?#@*]/.test(host)) return undefined;
  let normalized: string;
  try {
    normalized = stripDot(new URL(`http://${host}/`).hostname);
  } catch {
    return undefined;
  }
  if (normalized === "") return undefined;
  // "*.10.0.0.1" names no subdomains.
  if (kind === "subdomain" && isIP(unbracket(normalized)) !== 0) return undefined;
  const address = kind === "exact" ? addressKey(normalized) : undefined;
  return { kind, host: normalized, ...(port !== undefined ? { port: Number(port) } : {}), ...(address !== undefined ? { address } : {}) };
}

function effectivePort(url: URL): number {
  if (url.port !== "") return Number(url.port);
  return url.protocol === "https:" ? 443 : 80;
}

/** The allow list of one session. Deny by default: an empty list allows nothing. */
export class NetPolicy {
  private readonly rules: HostRule[];

  /** `resolver` replaces the system's DNS in tests only. */
  constructor(
    allowHosts: readonly unknown[],
    private readonly resolver: NetResolver = systemResolver,
  ) {
    this.rules = allowHosts.map(parseHostRule).filter((r): r is HostRule => r !== undefined);
  }

  /** Whether the name (or literal) in `url` is on the list; where it leads is addresses()'s business. */
  allows(url: URL): boolean {
    const port = effectivePort(url);
    return this.rulesFor(url).some((r) => r.port === undefined || r.port === port);
  }

  private rulesFor(url: URL): HostRule[] {
    const host = stripDot(url.hostname.toLowerCase());
    return this.rules.filter((r) => (r.kind === "exact" ? host === r.host : host.endsWith(`.${r.host}`)));
  }

  /** Throws the sandbox's denial error unless `url` may be fetched. */
  check(url: URL, redirect: boolean): void {
    if (this.allows(url)) return;
    const what = redirect ? "redirect to host" : "host";
    const portOnly = this.rulesFor(url).length > 0;
    throw new SandboxError(
      portOnly
        ? `fetch denied: port ${effectivePort(url)} of ${what} "${url.hostname}" is not in the template's net allow_hosts`
        : `fetch denied: ${what} "${url.hostname}" is not in the template's net allow_hosts`,
      "ERR_NET_DENIED",
    );
  }

  /**
   * The addresses the request to `url` (allowed by check()) may connect to:
   * its host resolved once, the addresses that fail (see the top of this
   * file) dropped.
   * Throws the denial error when none is left.
   */
  async addresses(url: URL, redirect: boolean, signal: AbortSignal): Promise<LookupAddress[]> {
    const host = unbracket(url.hostname);
    const family = isIP(host);
    let found: LookupAddress[];
    if (family !== 0) {
      found = [{ address: host, family }];
    } else {
      try {
        found = await untilAborted(this.resolver(host), signal);
      } catch (e) {
        if (signal.aborted) throw signal.reason;
        throw networkError(e);
      }
      if (!Array.isArray(found) || found.length === 0) {
        throw new SandboxError(`fetch failed: no address found for "${url.hostname}"`, "ENOTFOUND", "TypeError");
      }
    }
    const port = effectivePort(url);
    const passed: LookupAddress[] = [];
    const refused: string[] = [];
    let portOnly = false;
    for (const a of found) {
      const address = typeof a?.address === "string" ? a.address : String(a?.address);
      const special = specialAddress(address);
      const key = addressKey(address);
      const named = key === undefined ? [] : this.rules.filter((r) => r.address === key);
      if (special === undefined || named.some((r) => r.port === undefined || r.port === port)) {
        passed.push({ address, family: isIP(address) });
      } else {
        refused.push(`${address} (${special})`);
        if (named.length > 0) portOnly = true;
      }
    }
    if (passed.length > 0) return passed;
    const what = redirect ? "redirect to host" : "host";
    const shown = refused.length > 4 ? [...refused.slice(0, 4), `${refused.length - 4} more`] : refused;
    throw new SandboxError(
      `fetch denied: ${what} "${url.hostname}" resolves to ${shown.join(", ")}: ` +
        (portOnly
          ? `port ${port} of ${refused.length > 1 ? "these addresses" : "that address"} is not in the template's net allow_hosts`
          : `a non-public address must be named itself in the template's net allow_hosts`),
      "ERR_NET_DENIED",
    );
  }
}

/** `promise`, or a rejection with the signal's reason once it aborts (a DNS lookup cannot be stopped). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

/** A socket lookup that answers with the addresses already checked, whatever the name. */
function pinnedLookup(addresses: LookupAddress[]): LookupFunction {
  return (_hostname, options, callback) => {
    const fitting = options.family === 4 || options.family === 6 ? addresses.filter((a) => a.family === options.family) : addresses;
    if (fitting.length === 0) {
      callback(Object.assign(new Error("no checked address of the requested family"), { code: "ENOTFOUND" }), "", 0);
    } else if (options.all) {
      callback(null, fitting);
    } else {
      callback(null, fitting[0]!.address, fitting[0]!.family);
    }
  };
}

type RedirectMode = "follow" | "manual" | "error";

/** A request as the sandbox sends it, validated. */
export interface FetchRequest {
  url: URL;
  method: string;
  /** Lowercase names, each once. */
  headers: Map<string, string>;
  body?: Buffer;
  /** The body was a string (its default content type is text/plain). */
  textBody: boolean;
  redirect: RedirectMode;
}

export interface FetchResult {
  status: number;
  statusText: string;
  url: string;
  redirected: boolean;
  /** [name, value] pairs, lowercase names, sorted, duplicates combined with ", ". */
  headers: Array<[string, string]>;
  body: string;
}

const typeError = (message: string) => new SandboxError(`fetch: ${message}`, "ERR_INVALID_ARG_TYPE", "TypeError");

/** The URL the sandbox asked for: http(s) only, no credentials. */
function parseFetchUrl(raw: unknown): URL {
  if (typeof raw !== "string") throw typeError("the URL must be a string");
  if (raw.length > NET_LIMITS.maxUrlChars) throw typeError(`the URL is longer than ${NET_LIMITS.maxUrlChars} characters`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new SandboxError(`fetch: invalid URL "${raw.length > 200 ? `${raw.slice(0, 200)}…` : raw}"`, "ERR_INVALID_URL", "TypeError");
  }
  checkUrl(url);
  return url;
}

function checkUrl(url: URL): void {
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new SandboxError(`fetch: unsupported protocol "${url.protocol}" (only http: and https:)`, "ERR_INVALID_URL_SCHEME", "TypeError");
  }
  if (url.username !== "" || url.password !== "") {
    throw new SandboxError("fetch: URLs with credentials are not allowed (send an Authorization header instead)", "ERR_INVALID_URL", "TypeError");
  }
}

/**
 * Checks what the sandbox sent (it validates too; this side is the one that
 * counts). Throws SandboxError.
 */
export function parseFetchRequest(url: unknown, method: unknown, headers: unknown, body: unknown, redirect: unknown): FetchRequest {
  const parsedUrl = parseFetchUrl(url);
  if (typeof method !== "string" || method.length > 64 || !TOKEN.test(method)) throw typeError("invalid method");
  const upper = method.toUpperCase();
  if (FORBIDDEN_METHODS.has(upper)) throw typeError(`method "${method}" is not allowed`);
  const normalized = ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH"].includes(upper) ? upper : method;

  if (!Array.isArray(headers) || headers.length % 2 !== 0 || headers.length > NET_LIMITS.maxHeaders * 2) throw typeError("invalid headers");
  const map = new Map<string, string>();
  let bytes = 0;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i];
    const value = headers[i + 1];
    if (typeof name !== "string" || typeof value !== "string") throw typeError("header names and values must be strings");
    bytes += name.length + value.length;
    if (bytes > NET_LIMITS.maxHeaderBytes) throw typeError(`request headers exceed ${NET_LIMITS.maxHeaderBytes} bytes`);
    if (!TOKEN.test(name)) throw typeError(`invalid header name "${name.slice(0, 100)}"`);
    if (BAD_VALUE.test(value)) throw typeError(`invalid value for header "${name}"`);
    const lower = name.toLowerCase();
    if (FORBIDDEN_REQUEST_HEADERS.has(lower) || lower.startsWith("proxy-")) continue;
    const prev = map.get(lower);
    map.set(lower, prev === undefined ? value : `${prev}, ${value}`);
  }

  let buf: Buffer | undefined;
  let textBody = false;
  if (typeof body === "string") {
    buf = Buffer.from(body, "utf8");
    textBody = true;
  } else if (body instanceof Uint8Array) {
    buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  } else if (body !== null && body !== undefined) {
    throw typeError("invalid body");
  }
  if (buf && buf.length > NET_LIMITS.maxRequestBodyBytes) {
    throw new SandboxError(`fetch: the request body exceeds ${NET_LIMITS.maxRequestBodyBytes} bytes`, "ERR_NET_REQUEST_TOO_LARGE", "RangeError");
  }
  if (buf && (normalized === "GET" || normalized === "HEAD")) throw typeError("a GET or HEAD request cannot have a body");

  if (redirect !== "follow" && redirect !== "manual" && redirect !== "error") throw typeError('redirect must be "follow", "manual" or "error"');
  return { url: parsedUrl, method: normalized, headers: map, body: buf, textBody, redirect };
}

/** Thrown when the response body goes over the cap. */
function tooLarge(): SandboxError {
  return new SandboxError(
    `fetch: the response body exceeds the ${NET_LIMITS.maxResponseBytes / (1024 * 1024)} MB limit`,
    "ERR_NET_RESPONSE_TOO_LARGE",
    "RangeError",
  );
}

function networkError(e: unknown): SandboxError {
  if (e instanceof SandboxError) return e;
  const err = e as NodeJS.ErrnoException;
  const message = e instanceof Error ? e.message : String(e);
  return new SandboxError(`fetch failed: ${message}`, typeof err?.code === "string" ? err.code : undefined, "TypeError");
}

function send(
  url: URL,
  addresses: LookupAddress[],
  method: string,
  headers: Map<string, string>,
  body: Buffer | undefined,
  signal: AbortSignal,
): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const outgoing: Record<string, string> = {};
    for (const [k, v] of headers) outgoing[k] = v;
    if (body !== undefined || method === "POST" || method === "PUT" || method === "PATCH") outgoing["content-length"] = String(body?.length ?? 0);
    const lib = url.protocol === "https:" ? https : http;
    let req: http.ClientRequest;
    try {
      req = lib.request({
        protocol: url.protocol,
        hostname: unbracket(url.hostname),
        port: url.port === "" ? undefined : Number(url.port),
        path: `${url.pathname}${url.search}`,
        method,
        headers: outgoing,
        agent: false,
        // The name stays for Host and TLS (SNI, certificate); the socket goes where addresses() said.
        lookup: pinnedLookup(addresses),
      });
    } catch (e) {
      reject(e);
      return;
    }
    const onAbort = () => req.destroy(signal.reason as Error);
    signal.addEventListener("abort", onAbort, { once: true });
    req.on("response", (res) => {
      signal.removeEventListener("abort", onAbort);
      // Whoever reads the body handles its errors; one after that must not go unhandled.
      res.on("error", () => {});
      resolve(res);
    });
    req.on("error", (e) => {
      signal.removeEventListener("abort", onAbort);
      reject(e);
    });
    req.end(body);
  });
}

async function readBody(res: http.IncomingMessage, signal: AbortSignal): Promise<Buffer> {
  const limit = NET_LIMITS.maxResponseBytes;
  const encoding = String(res.headers["content-encoding"] ?? "")
    .trim()
    .toLowerCase();
  const declared = Number(res.headers["content-length"]);
  if ((encoding === "" || encoding === "identity") && Number.isFinite(declared) && declared > limit) {
    res.destroy();
    throw tooLarge();
  }
  let stream: Readable = res;
  const decoder =
    encoding === "gzip" || encoding === "x-gzip"
      ? zlib.createGunzip()
      : encoding === "deflate"
        ? zlib.createInflate()
        : encoding === "br"
          ? zlib.createBrotliDecompress()
          : undefined;
  if (decoder) {
    pipeline(res, decoder, () => {});
    stream = decoder;
  }
  const onAbort = () => {
    res.destroy(signal.reason as Error);
    stream.destroy(signal.reason as Error);
  };
  if (signal.aborted) onAbort();
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of stream) {
      const b = chunk as Buffer;
      size += b.length;
      if (size > limit) {
        res.destroy();
        stream.destroy();
        throw tooLarge();
      }
      chunks.push(b);
    }
    if (signal.aborted) throw signal.reason;
    return Buffer.concat(chunks, size);
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

function responseHeaders(raw: string[]): Array<[string, string]> {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const prev = map.get(name);
    map.set(name, prev === undefined ? raw[i + 1]! : `${prev}, ${raw[i + 1]}`);
  }
  return [...map].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/**
 * Makes the request, following redirects by hand (every hop's host, and the
 * addresses it resolves to, checked before connecting). Rejects with a SandboxError, or with whatever
 * `signal` was aborted with.
 */
export async function hostFetch(policy: NetPolicy, request: FetchRequest, signal: AbortSignal): Promise<FetchResult> {
  let { url, method, body } = request;
  const headers = new Map(request.headers);
  if (!headers.has("accept")) headers.set("accept", "*/*");
  if (!headers.has("user-agent")) headers.set("user-agent", "vmsystem-fetch");
  if (request.textBody && !headers.has("content-type")) headers.set("content-type", "text/plain;charset=UTF-8");
  let redirected = false;
  for (let hop = 0; ; hop++) {
    policy.check(url, hop > 0);
    const addresses = await policy.addresses(url, hop > 0, signal);
    let res: http.IncomingMessage;
    try {
      res = await send(url, addresses, method, headers, body, signal);
    } catch (e) {
      if (signal.aborted) throw signal.reason;
      throw networkError(e);
    }
    const status = res.statusCode ?? 0;
    const location = res.headers.location;
    if (REDIRECT_STATUSES.has(status) && typeof location === "string" && request.redirect !== "manual") {
      res.destroy();
      if (request.redirect === "error")
        throw new SandboxError(`fetch failed: redirected (status ${status}) while redirect is "error"`, "ERR_NET_REDIRECT", "TypeError");
      if (hop >= NET_LIMITS.maxRedirects)
        throw new SandboxError(`fetch failed: more than ${NET_LIMITS.maxRedirects} redirects`, "ERR_NET_REDIRECT", "TypeError");
      let next: URL;
      try {
        next = new URL(location, url);
      } catch {
        throw new SandboxError("fetch failed: the server redirected to an invalid URL", "ERR_NET_REDIRECT", "TypeError");
      }
      checkUrl(next);
      if (((status === 301 || status === 302) && method === "POST") || (status === 303 && method !== "GET" && method !== "HEAD")) {
        method = "GET";
        body = undefined;
        for (const h of BODY_HEADERS) headers.delete(h);
      }
      if (next.origin !== url.origin) {
        headers.delete("authorization");
        headers.delete("cookie");
      }
      url = next;
      redirected = true;
      continue;
    }
    let bytes: Buffer;
    try {
      bytes = method === "HEAD" || status === 204 || status === 304 ? (res.destroy(), Buffer.alloc(0)) : await readBody(res, signal);
    } catch (e) {
      if (signal.aborted) throw signal.reason;
      throw networkError(e);
    }
    let text = bytes.toString("utf8");
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    return {
      status,
      statusText: res.statusMessage ?? "",
      url: url.href,
      redirected,
      headers: responseHeaders(res.rawHeaders),
      body: text,
    };
  }
}

/** What the sandbox's settleFetch() gets: JSON {ok, value} / {ok: false, error}, and the body text. */
export function fetchAnswer(outcome: { ok: true; value: FetchResult } | { ok: false; error: unknown }): [string, string] {
  if (outcome.ok) {
    const { body, ...meta } = outcome.value;
    return [JSON.stringify({ ok: true, value: meta }), body];
  }
  const info: SandboxErrorInfo = toErrorInfo(outcome.error);
  return [JSON.stringify({ ok: false, error: { name: info.name, message: info.message, code: info.code } }), ""];
}
