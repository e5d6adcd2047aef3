#!/usr/bin/env bash
# close-session.sh: close a session (its isolate is disposed) and print it as
# JSON (status SESSION_STATUS_CLOSED). Closing a closed session is a no-op.
#
#   scripts/close-session.sh SESSION_ID
#
# Server: $VMSYSTEM_SERVER (default 127.0.0.1:50051); see rpc.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/rpc.sh"

if [[ $# -ne 1 ]]; then
  echo "usage: close-session.sh SESSION_ID" >&2
  exit 2
fi
vmsystem_rpc vmsystem.v1.SessionService/CloseSession "{\"sessionId\": $(json_string "$1")}"
