#!/usr/bin/env bash
# The README's first command: run the TrustSwarm demo on embedded defaults.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bootstrap
cd "$ROOT"
exec "$PNPM" exec tsx test/demo/flow.ts "$@"
