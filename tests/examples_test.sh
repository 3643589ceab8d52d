#!/usr/bin/env bash
# Renders every environment of examples/ with `kubectl kustomize` (the reference)
# and with windlass, and compares the two with the shared conformance comparator.
#
# usage: tests/examples_test.sh WINDLASS_BINARY
# Exits 0 when every environment matches, non-zero otherwise.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
examples="$repo/examples"
shared="$here/../../shared"
compare="$shared/conformance/compare.py"
envs=(dev staging prod dr)

die() { echo "examples_test: $*" >&2; exit 2; }

[[ $# -eq 1 ]] || die "usage: $0 WINDLASS_BINARY"
windlass="$(realpath -e "$1" 2>/dev/null)" || die "windlass binary not found: $1"
[[ -x "$windlass" ]] || die "windlass binary is not executable: $windlass"
[[ -f "$compare" ]] || die "shared comparator missing: $compare (expected /work/shared next to the repo)"
command -v kubectl >/dev/null || die "kubectl not found (needed as the reference renderer)"
command -v python3 >/dev/null || die "python3 not found"

cases="$(mktemp -d "${TMPDIR:-/tmp}/windlass-examples.XXXXXX")"
trap 'rm -rf "$cases"' EXIT

for env in "${envs[@]}"; do
  case_dir="$cases/$env"
  mkdir -p "$case_dir"
  ln -s "$examples" "$case_dir/input"
  echo "overlays/$env" > "$case_dir/entry"
  echo "examples/overlays/$env rendered by kubectl kustomize" > "$case_dir/about"
  if ! kubectl kustomize "$examples/overlays/$env" > "$case_dir/expected.yaml"; then
    die "kubectl kustomize failed on examples/overlays/$env"
  fi
done

# compare.py prints one line per failing case and a final summary line
# "N passed, M failed, K byte-identical"; it exits 1 on any failure.
status=0
python3 "$compare" "$cases" -- "$windlass" render '{dir}' || status=$?
if [[ $status -ne 0 ]]; then
  echo "examples_test: FAILED (windlass differs from kubectl kustomize)" >&2
fi
exit "$status"
