#!/usr/bin/env bash
# create-template.sh: create a template (a runtime profile) and print it as JSON.
#
#   scripts/create-template.sh NAME [SETTINGS_JSON]
#   scripts/create-template.sh demo
#   scripts/create-template.sh demo '{"limits":{"cpuMs":2000},"runtime":{"strict":true}}'
#   T=$(scripts/create-template.sh demo | jq -r .id)
#
# SETTINGS_JSON is a TemplateSettings in protojson; omitted fields take the
# server's defaults. Server: $VMSYSTEM_SERVER (default 127.0.0.1:50051); see rpc.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/rpc.sh"

if [[ $# -lt 1 || $# -gt 2 ]]; then
  echo "usage: create-template.sh NAME [SETTINGS_JSON]" >&2
  exit 2
fi
request="{\"name\":$(json_string "$1")${2:+,\"settings\":$2}}"
vmsystem_rpc vmsystem.v1.TemplateService/CreateTemplate "$request"
