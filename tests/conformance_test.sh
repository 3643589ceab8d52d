#!/usr/bin/env bash
# conformance_test.sh WINDLASS
# Runs the project's own Kustomize conformance cases (tests/conformance, each
# with Kustomize v5.5.0's output made by tests/conformance/make-expected.sh)
# through the shared compare.py. Every case must pass, error cases with
# Kustomize's message text, and every success case must be byte-identical.
set -euo pipefail
windlass=$(realpath "${1:?usage: conformance_test.sh WINDLASS}")
here=$(cd "$(dirname "$0")" && pwd)
compare=$here/../../shared/conformance/compare.py
[[ -f $compare ]] || { echo "conformance_test: $compare is missing" >&2; exit 2; }
out=$(python3 "$compare" "$here/conformance/cases" -j 2 --check-error-text --show-nonidentical -- \
  "$windlass" render '{dir}') || true
printf '%s\n' "$out"
summary=$(printf '%s\n' "$out" | tail -n 1)
[[ $summary =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed,\ ([0-9]+)\ byte-identical$ ]] ||
  { echo "conformance_test: no summary from compare.py" >&2; exit 1; }
passed=${BASH_REMATCH[1]} failed=${BASH_REMATCH[2]} identical=${BASH_REMATCH[3]}
errors=$(find "$here/conformance/cases" -name expected-error | wc -l)
cases=$(find "$here/conformance/cases" -name entry | wc -l)
[[ $failed -eq 0 && $passed -eq $cases ]] || { echo "conformance_test: $failed of $cases cases failed" >&2; exit 1; }
[[ $identical -eq $((cases - errors)) ]] ||
  { echo "conformance_test: $((cases - errors - identical)) passing cases are not byte-identical" >&2; exit 1; }
