#!/usr/bin/env bash
# The whole test suite from a fresh clone: install what is needed, lint, typecheck, test.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bootstrap
cd "$ROOT"
say "lint (biome)"
"$PNPM" exec biome check . || die "lint failed: run 'pnpm run format' and fix what remains"
say "typecheck"
"$PNPM" run --silent typecheck || die "typecheck failed"
say "tests (vitest)"
exec "$PNPM" exec vitest run "$@"
