# What the shell test scripts share: counted checks and their summary. Source it, then
# call pass/fail/skip for each check and `summary NAME` at the end: it prints
# "NAME: N passed, M failed[, K skipped]" and returns 1 when anything failed.
passed=0
failed=0
skipped=0

pass() { echo "PASS  $1"; passed=$((passed + 1)); }
# fail NAME WHY [OUTPUT]: says what was expected and shows the command's output.
fail() {
  echo "FAIL  $1: $2" >&2
  [[ -n ${3:-} ]] && sed 's/^/      | /' <<<"$3" >&2
  failed=$((failed + 1))
}
# skip NAME WHY
skip() { echo "SKIP  $1: $2"; skipped=$((skipped + 1)); }

summary() {
  echo "$1: $passed passed, $failed failed$( ((skipped)) && echo ", $skipped skipped")"
  ((failed == 0))
}
