# Sourced by scripts/test and scripts/launch_test: the counts of an ava --tap report and the
# plain summary line `N passed, N failed[, N skipped]` both print.

# tap_counts REPORT STATUS: prints "PASSED FAILED SKIPPED" of the TAP report in file REPORT,
# where STATUS is ava's exit status. A non-zero status with no failed test (a crashed worker,
# an uncaught error, no test file found) counts as one failure; todo tests count as skipped.
tap_counts() {
  local report=$1 status=$2 passed failed skipped todo
  count() { awk -v key="# $1" '$0 ~ "^"key" [0-9]+$" { n = $3 } END { print n + 0 }' "$report"; }
  passed=$(count pass)
  failed=$(count fail)
  skipped=$(count skip)
  todo=$(count todo)
  if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
  echo "$passed $failed $((skipped + todo))"
}

# summary_line PASSED FAILED SKIPPED: the summary, skipped only when there are any.
summary_line() {
  local line="$1 passed, $2 failed"
  [ "$3" -gt 0 ] && line="$line, $3 skipped"
  echo "$line"
}
