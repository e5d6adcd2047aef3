#!/usr/bin/env bash
# run-snippet.sh: run JavaScript in a session, REPL style (state carries over
# between calls), and print the finished execution with its events as JSON.
#
#   scripts/run-snippet.sh [--stream [--batch N]] SESSION_ID CODE
#   scripts/run-snippet.sh "$S" 'var x = 41'
#   scripts/run-snippet.sh "$S" 'x + 1' | jq .result.json          # 42
#   echo 'console.log("hi"); x' | scripts/run-snippet.sh "$S" -     # CODE from stdin
#   scripts/run-snippet.sh --stream "$S" 'console.log(1); await null; 2'
#   scripts/run-snippet.sh --stream --batch 1000 "$S" 'for (let i = 0; i < 500; i++) console.log(i)' |
#     jq -r '(.event // .events.events[]?) | .console.text // empty'
#
# Default: ExecuteRepl, one JSON line (the Execution: status, result, error,
# events). --stream: StreamExecution, a line per update as it happens:
# {"started": …}, {"event": …}…, {"finished": …}. --batch N (max_batch)
# asks for the events in batches of 1..N instead, {"events": {"events":
# [{…}, …]}}: whatever is waiting when the stream can take a message (never
# delayed to fill one; the server caps N at 1,000). 0, the default, is one
# event a line. `(.event // .events.events[]?)` reads both forms (and a
# server older than batches, which sends `event`s whatever N is).
# A JavaScript exception is not a failed call: the execution's status is
# EXECUTION_STATUS_ERROR and the exit status is still 0. Exit 1 means the
# RPC failed (e.g. SESSION_NOT_FOUND, SESSION_BUSY).
# Server: $VMSYSTEM_SERVER (default 127.0.0.1:50051); see rpc.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/rpc.sh"

usage() {
  echo "usage: run-snippet.sh [--stream [--batch N]] SESSION_ID CODE|-" >&2
  exit 2
}
stream=false batch=
while [[ ${1:-} == --stream || ${1:-} == --batch ]]; do
  if [[ $1 == --stream ]]; then
    stream=true
    shift
  else
    [[ ${2:-} =~ ^(0|[1-9][0-9]*)$ ]] || usage
    batch=$2
    shift 2
  fi
done
if [[ $# -ne 2 ]] || { [[ -n $batch ]] && ! $stream; }; then usage; fi
session_id=$1 code=$2
if [[ $code == - ]]; then code=$(cat); fi

if $stream; then
  # maxBatch only when asked for: a server older than batches would refuse the unknown field.
  vmsystem_rpc vmsystem.v1.ExecutionService/StreamExecution \
    "{\"sessionId\": $(json_string "$session_id"), \"repl\": {\"input\": $(json_string "$code")}${batch:+, \"maxBatch\": $batch}}"
else
  vmsystem_rpc vmsystem.v1.ExecutionService/ExecuteRepl \
    "{\"sessionId\": $(json_string "$session_id"), \"input\": $(json_string "$code")}"
fi
