#!/usr/bin/env bash
# rpc.sh: call one vmsystem RPC through server reflection (no .proto files
# needed) and print the response as JSON, one object per line.
#
#   scripts/rpc.sh METHOD [REQUEST_JSON | -]
#   scripts/rpc.sh vmsystem.v1.TemplateService/AddModule '{"templateId":"…","name":"fs"}'
#   echo '{}' | scripts/rpc.sh vmsystem.v1.SessionService/GetRuntimeSummary -
#   scripts/rpc.sh list                # the services the server offers, one a line
#
# METHOD is package.Service/Method. REQUEST_JSON is the request as protojson
# (lowerCamel field names, as grpcurl prints them); default '{}'; '-' reads
# it from stdin. A server-streaming method prints a line per message as it
# arrives.
#
# Environment:
#   VMSYSTEM_SERVER      HOST:PORT of the server (default 127.0.0.1:50051)
#   VMSYSTEM_AUTH_TOKEN  sent as `authorization: Bearer …` when set
#   VMSYSTEM_TLS_CA      a CA certificate (PEM): connect with TLS trusting it
#                        (the server runs with --tls-cert/--tls-key); plaintext otherwise
#   VMSYSTEM_GRPC_TOOL   grpcurl | buf: which client to use (default: grpcurl when
#                        installed, else `buf curl` from this repo's node_modules,
#                        else buf on PATH)
#   VMSYSTEM_JSON        jq | node | raw: how each response is put on one line
#                        (default: jq when installed, else node, else raw:
#                        the tool's own indented JSON)
#
# Exit status: 0 success; 1 the call failed, with the error as JSON on
# stderr: with buf curl one line, {"code": "not_found", "message": …,
# "details": [{"type": "google.rpc.ErrorInfo", "value": …, "debug":
# {"reason": "SESSION_NOT_FOUND", "domain": "vmsystem.v1", "metadata": {…}}}]}
# (rpc.sh decodes the ErrorInfo that buf curl leaves as base64 into "debug");
# with grpcurl, its -format-error JSON. 2 bad usage or no client found.
#
# The other scripts in this folder `source` this file for vmsystem_rpc and
# json_string; copy it along with them.
set -euo pipefail

VMSYSTEM_SCRIPTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export VMSYSTEM_SERVER=${VMSYSTEM_SERVER:-127.0.0.1:50051}

# json_string TEXT: prints TEXT as a JSON string literal (quotes included),
# so user input (code, paths) can be put into a request safely.
json_string() {
  local s=$1 i ch
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\r'/\\r}
  s=${s//$'\t'/\\t}
  # The remaining control characters (bash strings hold no NUL) as \u00XX.
  for i in 1 2 3 4 5 6 7 8 11 12 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31; do
    printf -v ch "\\x$(printf %02x "$i")"
    s=${s//"$ch"/$(printf '\\u%04x' "$i")}
  done
  printf '"%s"' "$s"
}

# The client to use: grpcurl or buf.
_vmsystem_tool() {
  case "${VMSYSTEM_GRPC_TOOL:-}" in
    grpcurl | buf) echo "$VMSYSTEM_GRPC_TOOL" ;;
    "") if command -v grpcurl >/dev/null 2>&1; then echo grpcurl; else echo buf; fi ;;
    *) echo "rpc.sh: VMSYSTEM_GRPC_TOOL must be grpcurl or buf" >&2; return 2 ;;
  esac
}

# The buf executable: this repo's node_modules (after `npm ci`), else PATH.
_vmsystem_buf() {
  local local_buf="$VMSYSTEM_SCRIPTS_DIR/../node_modules/.bin/buf"
  if [[ -x $local_buf ]]; then
    echo "$local_buf"
  elif command -v buf >/dev/null 2>&1; then
    command -v buf
  else
    echo "rpc.sh: neither grpcurl nor buf found (run npm ci, or install grpcurl)" >&2
    return 2
  fi
}

# Reads concatenated JSON objects (as grpcurl and buf curl print them,
# indented) and writes each as one line as soon as it is complete.
_VMSYSTEM_NODE_COMPACT='
let depth = 0, inString = false, escaped = false, current = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => {
  for (const ch of chunk) {
    if (depth === 0 && ch !== "{" && ch !== "[") continue;
    current += ch;
    if (inString) {
      if (escaped) escaped = false;
      else if (ch === "\\") escaped = true;
      else if (ch === "\"") inString = false;
    } else if (ch === "\"") inString = true;
    else if (ch === "{" || ch === "[") depth++;
    else if ((ch === "}" || ch === "]") && --depth === 0) {
      process.stdout.write(JSON.stringify(JSON.parse(current)) + "\n");
      current = "";
    }
  }
});'

_vmsystem_compact() {
  local mode=${VMSYSTEM_JSON:-}
  if [[ -z $mode ]]; then
    if command -v jq >/dev/null 2>&1; then mode=jq
    elif command -v node >/dev/null 2>&1; then mode=node
    else mode=raw; fi
  fi
  case $mode in
    jq) jq -c --unbuffered . ;;
    node) node -e "$_VMSYSTEM_NODE_COMPACT" ;;
    raw) cat ;;
    *) echo "rpc.sh: VMSYSTEM_JSON must be jq, node or raw" >&2; return 2 ;;
  esac
}

# buf curl prints an error's google.rpc.ErrorInfo detail as base64 only:
# decode it into "debug": {"reason", "domain", "metadata"} (the field buf
# curl uses for details it can decode), and print the error on one line.
# Anything that is not such an error passes through unchanged.
_VMSYSTEM_NODE_ERROR='
let text = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (d) => (text += d));
process.stdin.on("end", () => {
  let err;
  try { err = JSON.parse(text); } catch { process.stdout.write(text); return; }
  // Minimal protobuf reader: ErrorInfo{1 reason, 2 domain, 3 map<string,string> metadata}.
  const fields = (buf) => {
    const out = [];
    for (let i = 0; i < buf.length; ) {
      let key = 0, shift = 0, b;
      do { b = buf[i++]; key += (b & 127) * 2 ** shift; shift += 7; } while (b & 128);
      if ((key & 7) !== 2) throw new Error("unexpected wire type");
      let len = 0; shift = 0;
      do { b = buf[i++]; len += (b & 127) * 2 ** shift; shift += 7; } while (b & 128);
      out.push([key >>> 3, buf.subarray(i, i + len)]);
      i += len;
    }
    return out;
  };
  for (const d of err.details || []) {
    if (d.type !== "google.rpc.ErrorInfo" || !d.value || d.debug) continue;
    try {
      const info = { reason: "", domain: "", metadata: {} };
      for (const [n, v] of fields(Buffer.from(d.value, "base64"))) {
        if (n === 1) info.reason = v.toString();
        else if (n === 2) info.domain = v.toString();
        else if (n === 3) {
          const kv = Object.fromEntries(fields(v).map(([k, x]) => [k, x.toString()]));
          info.metadata[kv[1] || ""] = kv[2] || "";
        }
      }
      d.debug = info;
    } catch {}
  }
  process.stdout.write(JSON.stringify(err) + "\n");
});'

_vmsystem_buf_error() {
  if command -v node >/dev/null 2>&1; then node -e "$_VMSYSTEM_NODE_ERROR"; else cat; fi
}

# The connection flags of each tool: TLS trusting $VMSYSTEM_TLS_CA, or plaintext.
_vmsystem_grpcurl_conn() {
  if [[ -n ${VMSYSTEM_TLS_CA:-} ]]; then printf '%s\n' -cacert "$VMSYSTEM_TLS_CA"; else printf '%s\n' -plaintext; fi
}
_vmsystem_buf_conn() {
  if [[ -n ${VMSYSTEM_TLS_CA:-} ]]; then printf '%s\n' --cacert "$VMSYSTEM_TLS_CA"; else printf '%s\n' --http2-prior-knowledge; fi
}
_vmsystem_url() {
  if [[ -n ${VMSYSTEM_TLS_CA:-} ]]; then printf 'https://%s' "$VMSYSTEM_SERVER"; else printf 'http://%s' "$VMSYSTEM_SERVER"; fi
}

# vmsystem_rpc METHOD REQUEST_JSON: calls METHOD on $VMSYSTEM_SERVER and
# prints each response message on its own line. Returns 1 if the call failed.
vmsystem_rpc() {
  local method=$1 data=${2:-"{}"} tool buf errors status=0
  local headers=()
  tool=$(_vmsystem_tool) || return 2
  if [[ -n ${VMSYSTEM_AUTH_TOKEN:-} ]]; then headers=(-H "authorization: Bearer $VMSYSTEM_AUTH_TOKEN"); fi
  # The request goes through stdin (-d @ / -d @-): no quoting limits, and it
  # stays out of the process list.
  if [[ $tool == grpcurl ]]; then
    printf '%s' "$data" |
      grpcurl $(_vmsystem_grpcurl_conn) -format-error ${headers[@]+"${headers[@]}"} -d @ "$VMSYSTEM_SERVER" "$method" |
      _vmsystem_compact || status=$?
  else
    buf=$(_vmsystem_buf) || return 2
    errors=$(mktemp)
    printf '%s' "$data" |
      "$buf" curl --protocol grpc $(_vmsystem_buf_conn) ${headers[@]+"${headers[@]}"} -d @- "$(_vmsystem_url)/$method" 2>"$errors" |
      _vmsystem_compact || status=$?
    if [[ -s $errors ]]; then _vmsystem_buf_error <"$errors" >&2; fi
    rm -f "$errors"
  fi
  if ((status != 0)); then return 1; fi
}

# vmsystem_list: the services the server offers through reflection, one a line.
vmsystem_list() {
  local tool buf
  tool=$(_vmsystem_tool) || return 2
  if [[ $tool == grpcurl ]]; then
    grpcurl $(_vmsystem_grpcurl_conn) "$VMSYSTEM_SERVER" list || return 1
  else
    buf=$(_vmsystem_buf) || return 2
    "$buf" curl --protocol grpc $(_vmsystem_buf_conn) --list-services "$(_vmsystem_url)" || return 1
  fi
}

# Run as a command (not sourced).
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  case "${1:-}" in
    "" | -h | --help)
      echo "usage: rpc.sh METHOD [REQUEST_JSON | -]   |   rpc.sh list" >&2
      exit 2
      ;;
    list) vmsystem_list ;;
    *)
      [[ $# -le 2 ]] || { echo "usage: rpc.sh METHOD [REQUEST_JSON | -]" >&2; exit 2; }
      request=${2:-"{}"}
      if [[ $request == - ]]; then request=$(cat); fi
      vmsystem_rpc "$1" "$request"
      ;;
  esac
fi
