#!/usr/bin/env bash
# run-snippet.sh: run JavaScript in a session, REPL style (state carries over
# between calls), and print the finished execution with its events as JSON.
#
#   scripts/run-snippet.sh [--stream] SESSION_ID CODE
#   scripts/run-snippet.sh "$S" 'var x = 41'
#   scripts/run-snippet.sh "$S" 'x + 1' | jq .result.json          # 42
#   echo 'console.log("hi"); x' | scripts/run-snippet.sh "$S" -     # CODE from stdin
#   scripts/run-snippet.sh --stream "$S" 'console.log(1); await null; 2'
#
# Default: ExecuteRepl, one JSON line (the Execution: status, result, error,
# events). --stream: StreamExecution, a line per update as it happens:
# {"started": …}, {"event": …}…, {"finished": …}.
# A JavaScript exception is not a failed call: the execution's status is
# EXECUTION_STATUS_ERROR and the exit status is still 0. Exit 1 means the
# RPC failed (e.g. SESSION_NOT_FOUND, SESSION_BUSY).
# Server: $VMSYSTEM_SERVER (default 127.0.0.1:50051); see rpc.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/rpc.sh"

stream=false
if [[ ${1:-} == --stream ]]; then stream=true; shift; fi
if [[ $# -ne 2 ]]; then
  echo "usage: run-snippet.sh [--stream] SESSION_ID CODE|-" >&2
  exit 2
fi
session_id=$1 code=$2
if [[ $code == - ]]; then code=$(cat); fi

if $stream; then
  vmsystem_rpc vmsystem.v1.ExecutionService/StreamExecution \
    "{\"sessionId\": $(json_string "$session_id"), \"repl\": {\"input\": $(json_string "$code")}}"
else
  vmsystem_rpc vmsystem.v1.ExecutionService/ExecuteRepl \
    "{\"sessionId\": $(json_string "$session_id"), \"input\": $(json_string "$code")}"
fi
