#!/usr/bin/env bash
# Sync benchmark: windlass sync against `kubectl apply --server-side` and kapp on
# the same harness cluster, for a generated tree of N objects (default 1000):
#   cold   one run into an empty namespace (windlass and kapp also wait for health;
#          kubectl does not wait);
#   no-op  the same objects again: hyperfine mean of 5 runs;
# with GNU time's peak RSS and the API requests and writes of one run, counted in
# the API server's audit log, and each peer's time as a multiple of windlass's.
#
# usage: bench/sync.sh [N]     (starts and stops its own harness: cluster + git)
# kapp is built by bench/build-peers (cached under ~/.cache/windlass-tools).
# Writes the Markdown table to stdout and bench/results/sync.md.
set -euo pipefail
N=${1:-1000}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
WINDLASS=${WINDLASS:-$repo/build-release/agent/windlass}
[[ -x $WINDLASS ]] || { echo "sync.sh: build windlass first: meson setup build-release --buildtype=release && meson compile -C build-release" >&2; exit 2; }
KAPP=${KAPP:-$("$here/build-peers")}
W=$(mktemp -d "${TMPDIR:-/tmp}/windlass-syncbench.XXXXXX")
ENVFILE=$W/env
cleanup() { "$repo/tests/harness/down" "$ENVFILE" >/dev/null 2>&1 || true; rm -rf "$W"; }
trap cleanup EXIT
WINDLASS_TEST_PIECES=cluster,git "$repo/tests/harness/up" "$ENVFILE" >/dev/null
set -a; source "$ENVFILE"; set +a
K="$WINDLASS_TEST_KUBECTL --kubeconfig $KUBECONFIG"

python3 "$here/gen_tree.py" "$N" "$W/tree" --hpa-owns-replicas >/dev/null
git init -q --bare -b main "$WINDLASS_TEST_GIT_ROOT/bench.git"
git clone -q "$WINDLASS_TEST_GIT_ROOT/bench.git" "$W/work" 2>/dev/null
cp -r "$W/tree/base" "$W/work/app"
(cd "$W/work" && git add -A && git -c user.name=bench -c user.email=b@x commit -qm tree && git push -q origin HEAD:main 2>/dev/null)
"$WINDLASS" render "$W/work/app" > "$W/rendered.yaml"
objects=$(grep -c '^kind:' "$W/rendered.yaml")

cat > "$W/windlass.yaml" <<YAML
apiVersion: windlass.dev/v1alpha1
kind: Agent
repository: {url: $WINDLASS_TEST_GIT_ROOT/bench.git}
cluster: {kubeconfig: $KUBECONFIG}
stateDir: $W/state
environments:
- {name: bench, branch: main, path: app, namespace: bench-windlass, healthTimeout: 10m}
YAML

mark() { wc -l < "$WINDLASS_TEST_AUDIT_LOG"; }
requests_since() {  # first line, user-agent prefix → requests (ResponseComplete) that tool made
  # By user agent, not user: kwok and the tools share the admin credentials.
  python3 - "$WINDLASS_TEST_AUDIT_LOG" "$1" "$2" <<'PY'
import json, sys
log, start, agent = sys.argv[1], int(sys.argv[2]), sys.argv[3].lower()
n = w = 0
with open(log) as f:
    for i, line in enumerate(f):
        if i < start: continue
        try: e = json.loads(line)
        except ValueError: continue
        if e.get("stage") != "ResponseComplete" or not e.get("userAgent", "").lower().startswith(agent): continue
        n += 1
        if e.get("verb") in ("create", "update", "patch", "delete") and "dryRun" not in e.get("requestURI", ""):
            w += 1
print(n, w)
PY
}

once() {  # AGENT COMMAND... → "seconds peak-RSS-MiB requests writes" of one run
  local agent=$1 m counts
  shift
  sleep 1; m=$(mark)
  /usr/bin/time -f '%e %M' -o "$W/time" "$@" >/dev/null 2>"$W/err" ||
    { echo "sync.sh: $* failed: $(tail -3 "$W/err")" >&2; exit 1; }
  sleep 2  # the audit log is written as requests complete
  read -r secs kib < "$W/time"
  counts=$(requests_since "$m" "$agent")
  [[ ${counts%% *} -gt 0 ]] || { echo "sync.sh: no API request with user agent $agent in the audit log" >&2; exit 1; }
  echo "$secs $(python3 -c "print(f'{$kib/1024:.1f}')") $counts"
}
mean() {  # COMMAND → "mean ± sd" of 5 hyperfine runs, seconds
  hyperfine --runs 5 --warmup 0 --export-json "$W/hf.json" --style basic "$1" >"$W/hf.out" 2>&1 ||
    { echo "sync.sh: hyperfine of '$1' failed: $(tail -5 "$W/hf.out")" >&2; exit 1; }
  python3 -c "import json; r=json.load(open('$W/hf.json'))['results'][0]; print(f\"{r['mean']:.3f} ± {r['stddev']:.3f}\")"
}
ratio() { python3 -c "print(f'{$1/$2:.1f}×')"; }  # PEER-SECONDS WINDLASS-SECONDS

wl_sync="$WINDLASS sync --config $W/windlass.yaml --env bench"
kubectl_apply="$K apply --server-side --force-conflicts -n bench-kubectl -f $W/rendered.yaml"
kapp_deploy="$KAPP deploy -y -a bench -n bench-kapp --kubeconfig $KUBECONFIG -f $W/rendered.yaml --into-ns bench-kapp"
$K create namespace bench-kubectl >/dev/null
$K create namespace bench-kapp >/dev/null

declare -A cold noop noopMean
for tool in windlass kubectl kapp; do
  case $tool in windlass) cmd=$wl_sync ;; kubectl) cmd=$kubectl_apply ;; kapp) cmd=$kapp_deploy ;; esac
  cold[$tool]=$(once "$tool" $cmd)
  noop[$tool]=$(once "$tool" $cmd)
  noopMean[$tool]=$(mean "$cmd")
done

rows=()
read -r wcs _ <<<"${cold[windlass]}"
wnm=${noopMean[windlass]%% *}
for tool in windlass kubectl kapp; do
  case $tool in
    windlass) label="windlass sync" ;;
    kubectl) label="kubectl apply --server-side --force-conflicts" ;;
    kapp) label="kapp deploy" ;;
  esac
  read -r cs crss creq cw <<<"${cold[$tool]}"
  read -r _ nrss nreq nw <<<"${noop[$tool]}"
  nm=${noopMean[$tool]}
  rows+=("| $label | $objects | $cs | $(ratio "$cs" "$wcs") | $crss | $creq / $cw | $nm | $(ratio "${nm%% *}" "$wnm") | $nrss | $nreq / $nw |")
done
{
  echo "# windlass sync vs kubectl apply --server-side and kapp"
  echo
  echo "- date: $(date -u +%FT%TZ); $(nproc) CPUs; harness cluster (kube-apiserver $($K version -o json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["serverVersion"]["gitVersion"])') + KWOK) on 127.0.0.1"
  echo "- tree: bench/gen_tree.py $N --hpa-owns-replicas (base); $("$WINDLASS" version); $("$KAPP" version | head -n 1); kubectl $($K version --client -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["clientVersion"]["gitVersion"])')"
  echo "- cold: one run into an empty namespace; windlass and kapp wait for health, kubectl does not"
  echo "- no-op: the same objects again, hyperfine mean ± sd of 5 runs; × = the tool's time over windlass's"
  echo "- RSS: GNU time's peak; requests / writes: of one run, from the API server's audit log (dry runs are not writes)"
  echo
  echo "| tool | objects | cold (s) | × | cold RSS (MiB) | cold requests / writes | no-op (s) | × | no-op RSS (MiB) | no-op requests / writes |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  printf '%s\n' "${rows[@]}"
} | tee "$here/results/sync.md"
