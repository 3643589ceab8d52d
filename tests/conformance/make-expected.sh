#!/usr/bin/env bash
# make-expected.sh [CASE...]
# Writes each case's expected.yaml with Kustomize's output (`kubectl kustomize`,
# which embeds Kustomize v5.5.0). Error cases (an expected-error file) are
# checked to fail instead. Run it by hand after adding or changing a case and
# commit what it writes; the tests never run kubectl.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
version=$(kubectl version --client 2>/dev/null | sed -n 's/^Kustomize Version: //p')
[[ $version == v5.5.0 ]] || { echo "make-expected: need Kustomize v5.5.0 in kubectl, found '$version'" >&2; exit 2; }
cd "$here/cases"
cases=("$@")
[[ ${#cases[@]} -gt 0 ]] || mapfile -t cases < <(find . -mindepth 2 -maxdepth 2 -name entry -printf '%h\n' | sed 's|^\./||' | sort)
for c in "${cases[@]}"; do
  dir=$c/input/$(cat "$c/entry")
  if [[ -f $c/expected-error ]]; then
    if kubectl kustomize "$dir" >/dev/null 2>&1; then
      echo "make-expected: $c: Kustomize succeeds but the case expects an error" >&2
      exit 1
    fi
    echo "$c: fails as expected"
    continue
  fi
  kubectl kustomize "$dir" 2>/dev/null >"$c/expected.yaml"
  echo "$c: $(grep -c '^kind:' "$c/expected.yaml") objects"
done
