#!/usr/bin/env bash
# Agent benchmark: `windlass run` against Flux (source-controller + kustomize-controller) on
# one harness cluster, one Git repository (the harness's smart-HTTPS server, token + CA), one
# tree, one run. Each tool in turn manages M objects in 4 environments (namespaces wl-e1..4,
# then fx-e1..4; the other tool is stopped and its namespaces deleted), and is measured for:
#   drift    N edits of managed ConfigMaps (data.LOG_LEVEL, a merge patch), one every GAP s,
#            each a different object, rotating over the environments: time from the PATCH's
#            response until a watch sees the old value again: median and p99;
#   commit   C commits changing one ConfigMap (envs/e1/marker.yaml): time from `git push`'s
#            return until a watch sees the new value: median;
#   steady   T minutes with nothing changing: CPU seconds (utime+stime from /proc/PID/stat)
#            and API requests / writes (audit log, by user agent: windlass/…, source-controller/…,
#            kustomize-controller/…; dry runs are not writes);
#   memory   VmRSS and VmHWM (/proc/PID/status) at the end of the steady state.
# Flux's numbers are the sum over its two processes. Polling: windlass repository.interval, the
# GitRepository's and the Kustomizations' spec.interval are all --interval (Flux's CRDs accept
# any duration; --flux-interval sets the Kustomizations' alone). Flux's Kustomizations: prune:
# true, wait: false, targetNamespace per environment, force: false.
#
# usage: bench/agent.sh [--objects M] [--edits N] [--gap S] [--commits C] [--minutes T]
#                       [--interval D] [--flux-interval D] [--no-flux]
#   defaults: M=5000, N=50, GAP=0.5, C=5, T=10, interval 10s
# Starts and stops its own harness (cluster + git). WINDLASS=path (default
# build-release/agent/windlass); Flux is built by `bench/build-peers flux` (cached under
# ~/.cache/windlass-tools); its CRDs are applied from the Go module cache (`go mod download`).
# Writes the Markdown table to stdout and bench/results/agent.md.
set -euo pipefail
M=5000 N=50 GAP=0.5 C=5 T=10 INTERVAL=10s FLUX_INTERVAL= FLUX=1
while [[ $# -gt 0 ]]; do
  case $1 in
    --objects) M=$2; shift 2 ;; --edits) N=$2; shift 2 ;; --gap) GAP=$2; shift 2 ;;
    --commits) C=$2; shift 2 ;; --minutes) T=$2; shift 2 ;; --interval) INTERVAL=$2; shift 2 ;;
    --flux-interval) FLUX_INTERVAL=$2; shift 2 ;; --no-flux) FLUX=0; shift ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d' >&2; exit 2 ;;
  esac
done
FLUX_INTERVAL=${FLUX_INTERVAL:-$INTERVAL}
secs() { python3 -c "import re,sys; print(sum(float(n)*{'ms':.001,'s':1,'m':60,'h':3600}[u] for n,u in re.findall(r'([0-9.]+)(ms|s|m|h)', sys.argv[1])))" "$1"; }
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
WINDLASS=${WINDLASS:-$repo/build-release/agent/windlass}
[[ -x $WINDLASS ]] || { echo "agent.sh: build windlass first: meson setup build-release --buildtype=release && meson compile -C build-release" >&2; exit 2; }
log() { printf 'agent.sh: %s\n' "$*" >&2; }
SC_VERSION=${WINDLASS_FLUX_SOURCE_VERSION:-v1.9.6} KC_VERSION=${WINDLASS_FLUX_KUSTOMIZE_VERSION:-v1.9.6}
[[ $FLUX == 0 ]] || FLUXDIR=$("$here/build-peers" flux)
W=$(mktemp -d "${TMPDIR:-/tmp}/windlass-agentbench.XXXXXX")
ENVFILE=$W/env
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  "$repo/tests/harness/down" "$ENVFILE" >/dev/null 2>&1 || true
  [[ -n ${KEEP:-} ]] || rm -rf "$W"
}
trap cleanup EXIT
log "starting the harness (work dir $W)"
WINDLASS_TEST_PIECES=cluster,git "$repo/tests/harness/up" "$ENVFILE" >/dev/null
set -a; source "$ENVFILE"; set +a
K="$WINDLASS_TEST_KUBECTL --kubeconfig $KUBECONFIG"

# The repository: base/ (gen_tree.py, M/4 - 1 objects) and envs/e1..e4 (base + a marker ConfigMap).
per_env=$((M / 4))
python3 "$here/gen_tree.py" $((per_env - 1)) "$W/tree" --hpa-owns-replicas >/dev/null
git init -q --bare -b main "$WINDLASS_TEST_GIT_ROOT/bench.git"
git clone -q "$WINDLASS_TEST_GIT_ROOT/bench.git" "$W/work" 2>/dev/null
cp -r "$W/tree/base" "$W/work/base"
for e in 1 2 3 4; do
  mkdir -p "$W/work/envs/e$e"
  printf 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- ../../base\n- marker.yaml\n' > "$W/work/envs/e$e/kustomization.yaml"
  printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bench-marker\ndata:\n  rev: "0"\n' > "$W/work/envs/e$e/marker.yaml"
done
(cd "$W/work" && git add -A && git -c user.name=bench -c user.email=b@x commit -qm tree && git push -q origin HEAD:main 2>/dev/null)
objects=$("$WINDLASS" render "$W/work/envs/e1" | grep -c '^kind:')
URL=$WINDLASS_TEST_GIT_HTTPS_URL/bench.git
[[ $WINDLASS_TEST_GIT_HTTPS_URL == */ ]] && URL=${WINDLASS_TEST_GIT_HTTPS_URL}bench.git
printf '%s' "$WINDLASS_TEST_GIT_USER" > "$W/user"; printf '%s' "$WINDLASS_TEST_GIT_TOKEN" > "$W/token"

mark() { wc -l < "$WINDLASS_TEST_AUDIT_LOG"; }
requests_since() {  # FIRST-LINE UA-PREFIX... → "requests writes" (ResponseComplete) of those user agents
  python3 - "$WINDLASS_TEST_AUDIT_LOG" "$@" <<'PY'
import json, sys
log, start, agents = sys.argv[1], int(sys.argv[2]), tuple(a.lower() for a in sys.argv[3:])
n = w = 0
with open(log) as f:
    for i, line in enumerate(f):
        if i < start: continue
        try: e = json.loads(line)
        except ValueError: continue
        if e.get("stage") != "ResponseComplete" or not e.get("userAgent", "").lower().startswith(agents): continue
        n += 1
        if e.get("verb") in ("create", "update", "patch", "delete") and "dryRun" not in e.get("requestURI", ""):
            w += 1
print(n, w)
PY
}
cpu() {  # PID... → CPU seconds (utime + stime)
  python3 - "$@" <<'PY'
import os, sys
hz = os.sysconf("SC_CLK_TCK"); t = 0
for p in sys.argv[1:]:
    f = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
    t += int(f[11]) + int(f[12])
print(f"{t / hz:.2f}")
PY
}
mem() {  # PID... → "VmRSS VmHWM" in MiB, summed
  python3 - "$@" <<'PY'
import sys
r = h = 0
for p in sys.argv[1:]:
    for line in open(f"/proc/{p}/status"):
        k, v = line.split(":", 1)
        if k == "VmRSS": r += int(v.split()[0])
        if k == "VmHWM": h += int(v.split()[0])
print(f"{r / 1024:.0f} {h / 1024:.0f}")
PY
}
stats() {  # JSON from agent_probe.py → "median p99 n missed" (seconds)
  python3 -c '
import json, math, sys, statistics
d = json.load(sys.stdin); l = sorted(d["latencies"]); nan = float("nan")
med = statistics.median(l) if l else nan
p99 = l[min(len(l), math.ceil(0.99 * len(l))) - 1] if l else nan
print("%.3f %.3f %d %d" % (med, p99, len(l), d["missed"]))'
}
wait_until() {  # SECONDS DESCRIPTION COMMAND...
  local limit=$1 what=$2 start=$SECONDS; shift 2
  until "$@" >/dev/null 2>&1; do
    (( SECONDS - start < limit )) || { log "ERROR: $what: not within $limit s"; return 1; }
    sleep 1
  done
}

declare -A R  # R[tool.metric]
measure() {  # TOOL NS-PREFIX PID... : the four measurements of one running tool
  local tool=$1 prefix=$2 m c0 c1; shift 2
  local agents
  case $tool in windlass) agents="windlass/" ;; flux) agents="source-controller/ kustomize-controller/" ;; esac
  log "$tool: drift repair ($N edits, one every $GAP s)"
  read -r R[$tool.drift_med] R[$tool.drift_p99] R[$tool.drift_n] R[$tool.drift_missed] < <(
    python3 "$here/agent_probe.py" drift "$prefix" 4 "$N" "$GAP" $(( $(secs "$FLUX_INTERVAL" | cut -d. -f1) * 3 + 120 )) | stats)
  log "$tool: commit to applied ($C commits)"
  read -r R[$tool.commit_med] R[$tool.commit_p99] R[$tool.commit_n] R[$tool.commit_missed] < <(
    python3 "$here/agent_probe.py" commit "$prefix" "$W/work" "$C" "$(secs "$INTERVAL")" $(( $(secs "$INTERVAL" | cut -d. -f1) * 3 + 180 )) | stats)
  sleep 15  # let the last commit's work finish
  log "$tool: steady state ($T min)"
  m=$(mark); c0=$(cpu "$@")
  sleep $((T * 60))
  c1=$(cpu "$@")
  read -r R[$tool.rss] R[$tool.hwm] < <(mem "$@")
  sleep 2  # the audit log is written as requests complete
  read -r R[$tool.req] R[$tool.writes] < <(requests_since "$m" $agents)
  R[$tool.cpu]=$(python3 -c "print(f'{$c1 - $c0:.2f}')")
  R[$tool.uas]=$(python3 - "$WINDLASS_TEST_AUDIT_LOG" "$m" <<'PY'
import json, sys, collections
c = collections.Counter()
for i, line in enumerate(open(sys.argv[1])):
    if i < int(sys.argv[2]): continue
    try: e = json.loads(line)
    except ValueError: continue
    if e.get("stage") == "ResponseComplete": c[e.get("userAgent", "").split(" ")[0]] += 1
print(", ".join(f"{k}: {v}" for k, v in c.most_common(6)))
PY
)
}

# ---- windlass ------------------------------------------------------------------------------
for e in 1 2 3 4; do $K create namespace "wl-e$e" >/dev/null; done
cat > "$W/windlass.yaml" <<YAML
apiVersion: windlass.dev/v1alpha1
kind: Agent
repository:
  url: $URL
  credentials: {usernameFile: $W/user, passwordFile: $W/token, caFile: $WINDLASS_TEST_GIT_CA}
  interval: $INTERVAL
cluster: {kubeconfig: $KUBECONFIG}
stateDir: $W/state
environments:
- {name: e1, branch: main, path: envs/e1, namespace: wl-e1, healthTimeout: 10m}
- {name: e2, branch: main, path: envs/e2, namespace: wl-e2, healthTimeout: 10m}
- {name: e3, branch: main, path: envs/e3, namespace: wl-e3, healthTimeout: 10m}
- {name: e4, branch: main, path: envs/e4, namespace: wl-e4, healthTimeout: 10m}
YAML
log "windlass: first sync of 4 × $objects objects"
start=$SECONDS
"$WINDLASS" run --config "$W/windlass.yaml" --log-format json 2>> "$W/windlass.log" &
wl=$!; pids+=("$wl")
synced_all() { for e in 1 2 3 4; do grep '"msg":"synced"' "$W/windlass.log" | grep -q "\"environment\":\"e$e\"" || return 1; done; }
wait_until 900 "windlass: first sync of every environment" synced_all || { tail -5 "$W/windlass.log" >&2; exit 1; }
R[windlass.first]=$((SECONDS - start))
measure windlass wl- "$wl"
kill -TERM "$wl"; wait "$wl" || true
grep -c '"msg":"drift repaired' "$W/windlass.log" | xargs -I{} echo "windlass: {} drift repairs logged" >&2
log "windlass: stopped; deleting its namespaces"
$K delete namespace wl-e1 wl-e2 wl-e3 wl-e4 --timeout=600s >/dev/null

# ---- Flux ----------------------------------------------------------------------------------
if [[ $FLUX == 1 ]]; then
  free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
  for m in "source-controller@$SC_VERSION" "kustomize-controller@$KC_VERSION"; do
    dir=$(cd "$W" && GOTOOLCHAIN=local GOFLAGS=-mod=mod go mod download -json "github.com/fluxcd/$m" |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
    mkdir -p "$W/crds"; cp "$dir"/config/crd/bases/*.yaml "$W/crds/"  # a temp copy, never in the repo
  done
  $K apply --server-side -f "$W/crds" >/dev/null
  $K wait --for=condition=Established crd --all --timeout=60s >/dev/null
  $K create namespace flux-system >/dev/null
  for e in 1 2 3 4; do $K create namespace "fx-e$e" >/dev/null; done
  $K -n flux-system create secret generic bench-git --from-file=username="$W/user" \
    --from-file=password="$W/token" --from-file=ca.crt="$WINDLASS_TEST_GIT_CA" >/dev/null
  sp=$(free_port)
  mkdir -p "$W/flux-storage"
  # No cluster DNS here: both controllers run as local processes on 127.0.0.1.
  RUNTIME_NAMESPACE=flux-system KUBECONFIG=$KUBECONFIG "$FLUXDIR/bin/source-controller" \
    --storage-path="$W/flux-storage" --storage-addr="127.0.0.1:$sp" --storage-adv-addr="127.0.0.1:$sp" \
    --metrics-addr="127.0.0.1:$(free_port)" --health-addr="127.0.0.1:$(free_port)" \
    --enable-leader-election=false --watch-all-namespaces --log-encoding=json 2>> "$W/source-controller.log" >&2 &
  sc=$!; pids+=("$sc")
  RUNTIME_NAMESPACE=flux-system KUBECONFIG=$KUBECONFIG "$FLUXDIR/bin/kustomize-controller" \
    --metrics-addr="127.0.0.1:$(free_port)" --health-addr="127.0.0.1:$(free_port)" \
    --enable-leader-election=false --watch-all-namespaces --log-encoding=json 2>> "$W/kustomize-controller.log" >&2 &
  kc=$!; pids+=("$kc")
  {
    cat <<YAML
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: bench, namespace: flux-system}
spec:
  url: $URL
  interval: $INTERVAL
  ref: {branch: main}
  secretRef: {name: bench-git}
YAML
    for e in 1 2 3 4; do cat <<YAML
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: e$e, namespace: flux-system}
spec:
  interval: $FLUX_INTERVAL
  sourceRef: {kind: GitRepository, name: bench}
  path: ./envs/e$e
  prune: true
  wait: false
  targetNamespace: fx-e$e
YAML
    done
  } > "$W/flux.yaml"
  log "flux: first sync of 4 × $objects objects"
  start=$SECONDS
  $K apply -f "$W/flux.yaml" >/dev/null
  flux_ready() {
    $K -n flux-system get kustomizations -o json | python3 -c '
import json, sys
items = json.load(sys.stdin)["items"]
ok = len(items) == 4 and all(any(c["type"] == "Ready" and c["status"] == "True" for c in i.get("status", {}).get("conditions", [])) for i in items)
sys.exit(0 if ok else 1)'
  }
  if ! wait_until 900 "flux: every Kustomization Ready" flux_ready; then
    $K -n flux-system get gitrepositories,kustomizations -o wide >&2 || true
    tail -3 "$W/source-controller.log" "$W/kustomize-controller.log" >&2
    exit 1
  fi
  R[flux.first]=$((SECONDS - start))
  measure flux fx- "$sc" "$kc"
fi

# ---- report --------------------------------------------------------------------------------
ratio() { python3 -c "
a, b = float('$1'), float('$2')
print('–' if a != a or b != b else ('∞' if b == 0 and a > 0 else ('1.0×' if b == 0 else f'{a / b:.1f}×')))"; }
row() {  # LABEL KEY UNIT
  local w=${R[windlass.$2]} f=${R[flux.$2]:-n/a}
  if [[ $FLUX == 1 ]]; then echo "| $1 | $w | $f | $(ratio "$f" "$w") |"; else echo "| $1 | $w | n/a | n/a |"; fi
}
{
  echo "# windlass run vs Flux (source-controller $SC_VERSION + kustomize-controller $KC_VERSION)"
  echo
  echo "- date: $(date -u +%FT%TZ); $(nproc) CPUs (shared with other work); harness cluster (kube-apiserver $($K version -o json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["serverVersion"]["gitVersion"])') + KWOK) and Git over HTTPS (token, CA) on 127.0.0.1"
  echo "- command: \`bench/agent.sh --objects $M --edits $N --gap $GAP --commits $C --minutes $T --interval $INTERVAL --flux-interval $FLUX_INTERVAL\`; $("$WINDLASS" version)"
  echo "- tree: bench/gen_tree.py $((per_env - 1)) --hpa-owns-replicas as base/, 4 environments envs/e1..e4 (base + one marker ConfigMap): $objects objects each, $((objects * 4)) managed in all"
  echo "- each tool alone (windlass first, then its namespaces deleted, then Flux); polling: windlass repository.interval, GitRepository and Kustomization interval as given; Flux: prune: true, wait: false"
  echo "- drift: $N edits of different managed ConfigMaps (data.LOG_LEVEL, merge patch), one every $GAP s, time until a watch sees the old value; missed = not repaired within 3 × interval + 120 s"
  echo "- commit: $C commits of envs/e1/marker.yaml pushed at random phases of the poll; time from push to the watch seeing the value"
  echo "- steady: $T min with nothing changing, after the commits; Flux = sum of its two processes; writes exclude dry runs"
  echo "- user agents in the audit log during the steady state: windlass run: ${R[windlass.uas]}${R[flux.uas]:+; Flux run: ${R[flux.uas]}}"
  echo
  echo "| measure | windlass | Flux | Flux / windlass |"
  echo "|---|---:|---:|---:|"
  row "first sync of 4 environments (s, until all synced / Ready)" first
  row "drift repair median (s)" drift_med
  row "drift repair p99 (s)" drift_p99
  echo "| drift edits repaired / missed | ${R[windlass.drift_n]} / ${R[windlass.drift_missed]} | ${R[flux.drift_n]:-n/a} / ${R[flux.drift_missed]:-n/a} | |"
  row "commit to applied median (s)" commit_med
  echo "| commits applied / missed | ${R[windlass.commit_n]} / ${R[windlass.commit_missed]} | ${R[flux.commit_n]:-n/a} / ${R[flux.commit_missed]:-n/a} | |"
  row "steady state CPU (s over $T min)" cpu
  row "steady state API requests ($T min)" req
  row "steady state API writes ($T min)" writes
  row "VmRSS at end (MiB)" rss
  row "VmHWM (MiB)" hwm
} | tee "$here/results/agent.md"
