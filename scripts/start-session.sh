#!/usr/bin/env bash
# start-session.sh: start a session (a live isolate) from a template and print
# it as JSON. Its status is SESSION_STATUS_READY, or SESSION_STATUS_CRASHED
# with lastError set when a startup file failed.
#
#   scripts/start-session.sh TEMPLATE_ID WORKTREE [WORKSPACE_ID] [COMMIT]
#   S=$(scripts/start-session.sh "$T" "$PWD" | jq -r .id)
#
# WORKTREE: a directory the server can see (file paths in the session are
# relative to it); a relative path is made absolute here. WORKSPACE_ID
# defaults to "default"; COMMIT to the worktree's git HEAD, else "none".
# Server: $VMSYSTEM_SERVER (default 127.0.0.1:50051); see rpc.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/rpc.sh"

if [[ $# -lt 2 || $# -gt 4 ]]; then
  echo "usage: start-session.sh TEMPLATE_ID WORKTREE [WORKSPACE_ID] [COMMIT]" >&2
  exit 2
fi
template_id=$1 worktree=$2 workspace=${3:-default}
# The server wants an absolute path; a missing directory is left as given
# for the server to reject (INVALID_PATH).
if [[ -d $worktree ]]; then worktree=$(cd "$worktree" && pwd -P); fi
commit=${4:-$(git -C "$worktree" rev-parse HEAD 2>/dev/null || echo none)}

vmsystem_rpc vmsystem.v1.SessionService/CreateSession "{
  \"templateId\": $(json_string "$template_id"),
  \"workspaceId\": $(json_string "$workspace"),
  \"baseCommitOid\": $(json_string "$commit"),
  \"worktreePath\": $(json_string "$worktree")
}"
