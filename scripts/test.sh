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
  // A file whose setup failed counts once even when none of its tests ran; describe blocks
  // around a failed test do not count again (numFailedTestSuites would).
  const failedFiles = r.testResults.filter(
    (f) => f.status === "failed" && !f.assertionResults.some((a) => a.status === "failed"),
  ).length;
  const failed = r.numFailedTests + failedFiles;
  console.log(`${r.numPassedTests} passed, ${failed} failed` + (r.numPendingTests ? `, ${r.numPendingTests} skipped` : ""));
' || true
exit $status
