#!/usr/bin/env bash
# realworld_test.sh WINDLASS [compare.py options...]
# Runs the shared real-world trees (../shared/realworld) through compare.py.
# Their `input` entries are stored as plain files holding a relative path (the
# link target); this builds a temporary corpus of real symlinks beside them and
# compares there. Fails loudly when the shared corpus is missing, when a case
# fails that tests/realworld_known_failures.txt does not list, and when a listed
# case passes (so the list stays true).
set -euo pipefail
windlass=$(realpath "${1:?usage: realworld_test.sh WINDLASS [options]}")
shift
here=$(cd "$(dirname "$0")" && pwd)
shared=$(realpath "$here/../../shared")
cases=$shared/realworld/cases
[[ -d $cases && -f $shared/conformance/compare.py ]] || { echo "realworld_test: $cases is missing" >&2; exit 2; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/windlass-realworld.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
for c in "$cases"/*/; do
  name=$(basename "$c")
  mkdir "$tmp/$name"
  for f in entry expected.yaml expected-error args about; do
    [[ -e $c/$f ]] && ln -s "$c/$f" "$tmp/$name/$f"
  done
  if [[ -L $c/input || -d $c/input ]]; then
    ln -s "$(realpath "$c/input")" "$tmp/$name/input"
  else
    ln -s "$(realpath -m "$c/$(cat "$c/input")")" "$tmp/$name/input"
  fi
done
out=$(python3 "$shared/conformance/compare.py" "$tmp" "$@" -- "$windlass" render '{dir}') || true
printf '%s\n' "$out"
summary=$(printf '%s\n' "$out" | tail -n 1)
[[ $summary =~ ^[0-9]+\ passed ]] || { echo "realworld_test: no summary from compare.py" >&2; exit 1; }
known=$(grep -v '^#' "$here/realworld_known_failures.txt" | grep -v '^$' | sort || true)
failed=$(printf '%s\n' "$out" | sed -n 's/^FAIL \([^:]*\):.*/\1/p' | sort)
unexpected=$(comm -13 <(printf '%s\n' "$known") <(printf '%s\n' "$failed") | grep -v '^$' || true)
fixed=$(comm -23 <(printf '%s\n' "$known") <(printf '%s\n' "$failed") | grep -v '^$' || true)
status=0
[[ -n $unexpected ]] && { echo "unexpected failures:"; printf '  %s\n' $unexpected; status=1; }
[[ -n $fixed ]] && { echo "now passing, remove from tests/realworld_known_failures.txt:"; printf '  %s\n' $fixed; status=1; }
exit $status
