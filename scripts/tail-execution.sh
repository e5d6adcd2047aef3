#!/usr/bin/env bash
# tail-execution.sh: print an execution's events as JSON lines, the stored
# ones first, then live ones until the execution ends (TailEvents, follow).
#
#   scripts/tail-execution.sh EXECUTION_ID [AFTER_SEQ]
#   scripts/tail-execution.sh "$E" | jq -r 'select(.event.console).event.console.text'
#
# One line per event, {"event": {"seq": 1, "type": "EVENT_TYPE_INPUT_ECHO", …}},
# ascending seq, no gaps; events with seq <= AFTER_SEQ (default 0) are
# skipped, so a reader that stopped can resume where it left off. Returns
# when the execution has ended and its last event is printed.
# Server: $VMSYSTEM_SERVER (default 127.0.0.1:50051); see rpc.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/rpc.sh"

if [[ $# -lt 1 || $# -gt 2 ]]; then
  echo "usage: tail-execution.sh EXECUTION_ID [AFTER_SEQ]" >&2
  exit 2
fi
after_seq=${2:-0}
if [[ ! $after_seq =~ ^[0-9]+$ ]]; then
  echo "tail-execution.sh: AFTER_SEQ must be a number" >&2
  exit 2
fi
vmsystem_rpc vmsystem.v1.ExecutionService/TailEvents \
  "{\"executionId\": $(json_string "$1"), \"afterSeq\": $after_seq, \"follow\": true}"
