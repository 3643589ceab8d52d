#!/usr/bin/env bash
# realworld_test.sh WINDLASS [compare.py options...]
# Runs the shared real-world trees (../shared/realworld) through compare.py.
# Their `input` entries are stored as plain files holding a relative path (the
# link target); this builds a temporary corpus of real symlinks beside them and
# compares there. Fails loudly when the shared corpus is missing.
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
python3 "$shared/conformance/compare.py" "$tmp" "$@" -- "$windlass" render '{dir}'
