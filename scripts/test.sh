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
mkdir -p test-results
status=0
"$PNPM" exec vitest run --reporter=default --reporter=json --outputFile.json=test-results/vitest.json "$@" || status=$?
# A plain closing line that any CI reads: "N passed, N failed".
node -e '
  const r = JSON.parse(require("fs").readFileSync("test-results/vitest.json", "utf8"));
  // A file whose setup failed counts as failed even when none of its tests ran.
  const failed = r.numFailedTests + r.numFailedTestSuites;
  console.log(`${r.numPassedTests} passed, ${failed} failed` + (r.numPendingTests ? `, ${r.numPendingTests} skipped` : ""));
' || true
exit $status
