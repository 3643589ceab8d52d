#!/usr/bin/env bash
# Image scan benchmark: one `windlass images` scan of P policies (default 50) over a
# repository of T tags (default 1000), against the harness's three registries
# (anonymous, basic auth, token auth through the token server). Per registry: wall time
# of the scan (hyperfine mean of 3 runs after a warm-up), HTTP requests sent (from the
# scan's own count), and the same with pages of 100 tags (WINDLASS_REGISTRY_PAGE_SIZE).
# All policies name one repository (pushing 50 × 1,000 tags through the registry API takes
# about 25 minutes here); windlass does not share a listing between policies, so each
# policy still lists all T tags itself: the work is that of P repositories.
#
# usage: bench/images.sh [--no-flux] [P] [T]   (starts and stops its own harness: registry only)
# Writes the Markdown table to stdout and bench/results/images.md.
# Flux's image-reflector-controller: unless --no-flux, the script first tries
# `bench/build-peers image-reflector` (the Go module proxy). That build fails here (the
# proxy refuses the module's .mod and .zip), so there is no Flux measurement: the script
# records the failing command and its error in bench/results/images.md, runs the windlass
# part, and exits 3. With --no-flux it exits 0 and the file says Flux was not attempted.
set -euo pipefail
FLUX=1
ARGS=()
for a in "$@"; do
  case $a in
    --no-flux) FLUX=0 ;;
    -*) echo "images.sh: unknown option $a (usage: bench/images.sh [--no-flux] [P] [T])" >&2; exit 2 ;;
    *) ARGS+=("$a") ;;
  esac
done
P=${ARGS[0]:-50}
T=${ARGS[1]:-1000}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
WINDLASS=${WINDLASS:-$repo/build-release/agent/windlass}
[[ -x $WINDLASS ]] || { echo "images.sh: build windlass first: meson setup build-release --buildtype=release && meson compile -C build-release" >&2; exit 2; }
command -v hyperfine >/dev/null || { echo "images.sh: hyperfine not found (packaging/install-deps)" >&2; exit 2; }
W=$(mktemp -d "${TMPDIR:-/tmp}/windlass-imagebench.XXXXXX")
ENVFILE=$W/env
cleanup() { "$repo/tests/harness/down" "$ENVFILE" >/dev/null 2>&1 || true; rm -rf "$W"; }
trap cleanup EXIT

# The Flux peer first: building it costs nothing when cached or refused, and a failure
# is recorded, not skipped.
FLUX_STATUS=0
if ((FLUX)); then
  if "$here/build-peers" image-reflector >"$W/flux-dir" 2>"$W/flux-build.err"; then
    echo "images.sh: image-reflector-controller built in $(cat "$W/flux-dir"), but its comparison is not written yet" >&2
    FLUX_STATUS=3
  else
    echo "images.sh: Flux image-reflector-controller did not build; recorded in bench/results/images.md:" >&2
    cat "$W/flux-build.err" >&2
    FLUX_STATUS=3
  fi
fi
WINDLASS_TEST_PIECES=registry "$repo/tests/harness/up" "$ENVFILE" >/dev/null
set -a; source "$ENVFILE"; set +a
# shellcheck source=../tests/integration/oci_push.sh
source "$repo/tests/integration/oci_push.sh"
RU=$WINDLASS_TEST_REGISTRY_USER
RP=$WINDLASS_TEST_REGISTRY_PASSWORD
printf '%s\n' "$RU" >"$W/user"
printf '%s\n' "$RP" >"$W/pass"
ociImage "$W"
TAGS=()
for i in $(seq 1 "$T"); do TAGS+=("1.$((i / 100)).$((i % 100))"); done

authFor() {  # authFor KIND REPO: sets OCI_AUTH
  case $1 in
    anon) OCI_AUTH=() ;;
    basic) OCI_AUTH=(-u "$RU:$RP") ;;
    token)
      local t
      t=$(curl -sf -u "$RU:$RP" \
        "$WINDLASS_TEST_REGISTRY_TOKEN_REALM?service=windlass-registry&scope=repository:$2:pull,push" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
      OCI_AUTH=(-H "Authorization: Bearer $t")
      ;;
  esac
}

row() {  # row LABEL KIND REGISTRY
  local label=$1 kind=$2 registry=$3 i start
  start=$SECONDS
  authFor "$kind" "$RU/bench"
  ociPush "$registry" "$RU/bench" "$W" "${TAGS[@]}"
  echo "images.sh: $label: pushed $T tags in $((SECONDS - start)) s" >&2
  {
    echo "apiVersion: windlass.dev/v1alpha1"
    echo "kind: Agent"
    echo "repository: {url: $W/unused.git}"
    echo "stateDir: $W/state"
    echo "environments: [{name: dev}]"
    echo "imagePolicies:"
    for i in $(seq 1 "$P"); do
      printf -- '- {name: p%d, image: %s/%s/bench, insecure: true, policy: {semver: {range: ">=1.%d.0"}}' \
        "$i" "$registry" "$RU" "$((i % 10))"
      [[ $kind == anon ]] || printf ', credentials: {usernameFile: %s, passwordFile: %s}' "$W/user" "$W/pass"
      printf '}\n'
    done
  } >"$W/$kind.yaml"
  "$WINDLASS" images --config "$W/$kind.yaml" -o json >"$W/$kind.json"
  local requests requests100 mean mean100
  requests=$(python3 -c 'import json, sys; d = json.load(open(sys.argv[1]))
assert all(p["ok"] and p["tagsSeen"] == int(sys.argv[2]) for p in d["policies"]), "a scan failed"
print(sum(p["requests"] for p in d["policies"]))' "$W/$kind.json" "$T")
  hyperfine -N -w 1 -r 3 --export-json "$W/$kind-h.json" \
    "$WINDLASS images --config $W/$kind.yaml -o json" >/dev/null 2>&1
  mean=$(python3 -c 'import json, sys; print("%.2f s" % json.load(open(sys.argv[1]))["results"][0]["mean"])' "$W/$kind-h.json")
  WINDLASS_REGISTRY_PAGE_SIZE=100 "$WINDLASS" images --config "$W/$kind.yaml" -o json >"$W/$kind-100.json"
  requests100=$(python3 -c 'import json, sys; print(sum(p["requests"] for p in json.load(open(sys.argv[1]))["policies"]))' "$W/$kind-100.json")
  WINDLASS_REGISTRY_PAGE_SIZE=100 hyperfine -N -w 1 -r 3 --export-json "$W/$kind-h100.json" \
    "$WINDLASS images --config $W/$kind.yaml -o json" >/dev/null 2>&1
  mean100=$(python3 -c 'import json, sys; print("%.2f s" % json.load(open(sys.argv[1]))["results"][0]["mean"])' "$W/$kind-h100.json")
  printf '| %s | %d × %d | %s | %s | %s | %s |\n' "$label" "$P" "$T" "$mean" "$requests" "$mean100" "$requests100"
}
{
  printf '| registry | policies × tags | scan (mean of 3) | requests (n=1000) | scan, pages of 100 | requests (n=100) |\n'
  printf '|---|---|---|---|---|---|\n'
  row anonymous anon "$WINDLASS_TEST_REGISTRY"
  row "basic auth" basic "$WINDLASS_TEST_REGISTRY_AUTH"
  row "token auth" token "$WINDLASS_TEST_REGISTRY_TOKEN"
} | tee "$W/table.md"
{
  echo "# Image scan benchmark"
  echo
  echo "One \`windlass images\` scan (all policies in sequence, one connection each), distribution v3"
  echo "registries of the harness on 127.0.0.1, $(nproc) cores shared, $(date -u +%Y-%m-%d)."
  echo "Requests include the 401 challenge and the token request per policy where there is auth."
  echo
  cat "$W/table.md"
  echo
  echo "## Flux image-reflector-controller"
  echo
  if ((!FLUX)); then
    echo "Not attempted (\`--no-flux\`)."
  elif [[ -s $W/flux-dir ]]; then
    echo "Built (\`bench/build-peers image-reflector\` → $(sed "s|$HOME|~|" "$W/flux-dir")) but not measured:"
    echo "this script has no Flux run yet."
  else
    echo "Not measured: \`bench/build-peers image-reflector\` failed ($(go version 2>/dev/null | cut -d' ' -f3),"
    echo "\`GOPROXY=$(go env GOPROXY 2>/dev/null)\`), so there is no windlass/Flux ratio. Its output:"
    echo
    echo '```'
    sed "s|$HOME|~|g" "$W/flux-build.err"
    echo '```'
  fi
} >"$here/results/images.md"
exit "$FLUX_STATUS"
