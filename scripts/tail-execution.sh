#!/usr/bin/env bash
# tail-execution.sh: print an execution's events as JSON lines, the stored
# ones first, then live ones until the execution ends (TailEvents, follow).
#
#   scripts/tail-execution.sh [--batch N] EXECUTION_ID [AFTER_SEQ]
#   scripts/tail-execution.sh "$E" | jq -r 'select(.event.console).event.console.text'
#   scripts/tail-execution.sh --batch 1000 "$E" | jq -r '(.event // .events[]?) | .console.text // empty'
#
# One line per event, {"event": {"seq": 1, "type": "EVENT_TYPE_INPUT_ECHO", …}},
# ascending seq, no gaps; events with seq <= AFTER_SEQ (default 0) are
# skipped, so a reader that stopped can resume where it left off. Returns
# when the execution has ended and its last event is printed.
# --batch N (max_batch) asks for batches of 1..N events a line instead,
# {"events": [{…}, …]}, same order: whatever is waiting when the stream can
# take a message (never delayed to fill one; the server caps N at 1,000), so
# a long execution replays in far fewer messages. 0, the default, is one
# event a line. `(.event // .events[]?)` reads both forms (and a server older
# than batches, which sends `event`s whatever N is).
# Server: $VMSYSTEM_SERVER (default 127.0.0.1:50051); see rpc.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/rpc.sh"

batch=
if [[ ${1:-} == --batch ]]; then
  if [[ ! ${2:-} =~ ^(0|[1-9][0-9]*)$ ]]; then
    echo "tail-execution.sh: --batch needs a number" >&2
    exit 2
  fi
  batch=$2
  shift 2
fi
if [[ $# -lt 1 || $# -gt 2 ]]; then
  echo "usage: tail-execution.sh [--batch N] EXECUTION_ID [AFTER_SEQ]" >&2
  exit 2
fi
after_seq=${2:-0}
if [[ ! $after_seq =~ ^[0-9]+$ ]]; then
  echo "tail-execution.sh: AFTER_SEQ must be a number" >&2
  exit 2
fi
# maxBatch only when asked for: a server older than batches would refuse the unknown field.
vmsystem_rpc vmsystem.v1.ExecutionService/TailEvents \
  "{\"executionId\": $(json_string "$1"), \"afterSeq\": $after_seq, \"follow\": true${batch:+, \"maxBatch\": $batch}}"
