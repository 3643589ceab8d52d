#!/usr/bin/env bash
# demo_test.sh: examples/demo for real, three times, each with its own local stack
# (tests/harness/up; so run it while no other harness of this checkout needs the CPU).
#   1. `examples/demo --check` exits 0 once dev, staging, prod and dr are synced and Healthy,
#      and leaves nothing behind (no process, no files);
#   2. `examples/demo` (interactive) serves /healthz and /metrics on the port it prints, heals a
#      Deployment edited with kubectl, and on SIGINT (Ctrl-C) stops everything it started;
#   3. a demo that cannot start its agent (its port is taken) exits non-zero with the reason
#      and stops the stack.
# Ends with "N passed, M failed".
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEMO=$ROOT/examples/demo
passed=0 failed=0
ok() { echo "PASS $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1"; failed=$((failed + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
wait_for() {
  local end=$((SECONDS + $1)); shift
  while ((SECONDS < end)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
  return 1
}
T=$(mktemp -d "${TMPDIR:-/tmp}/windlass-demo-test.XXXXXX")
demo_pid=""
holder=""
cleanup() {
  [[ -n $demo_pid ]] && kill -TERM "$demo_pid" 2>/dev/null && sleep 20
  [[ -n $holder ]] && kill "$holder" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
# Nothing left running: no process mentions the demo's folder (the agent's --config, the
# harness's programs all run from or with paths inside it).
nothing_left() { ! pgrep -f "$1" >/dev/null && [[ ! -e $1 ]]; }

# ---- 1. --check ------------------------------------------------------------------------------
t0=$SECONDS
WINDLASS_DEMO_WORKDIR=$T/check "$DEMO" --check >"$T/check.log" 2>&1
rc=$?
sed 's/^/  | /' "$T/check.log"
echo "  examples/demo --check: $((SECONDS - t0)) s"
check "examples/demo --check exits 0" test "$rc" = 0
check "it says all four environments are synced and Healthy" \
  grep -q 'OK: all four environments synced and Healthy' "$T/check.log"
for env in dev staging prod dr; do
  check "  $env: Healthy, Succeeded, in sync" grep -q "demo:   $env Healthy Succeeded in sync" "$T/check.log"
done
check "after --check nothing of the demo is left (processes, files)" nothing_left "$T/check"

# ---- 2. interactive, then Ctrl-C --------------------------------------------------------------
# Started the way a terminal starts it: SIGINT not ignored (a background job of a script would
# ignore it), in its own process group.
LOG=$T/live.log WINDLASS_DEMO_WORKDIR=$T/live python3 -c '
import os, signal, subprocess, sys
p = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=open(os.environ["LOG"], "w"),
                     stderr=subprocess.STDOUT, start_new_session=True,
                     preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
print(p.pid)' "$DEMO" >"$T/live.pid" 2>&1 </dev/null
demo_pid=$(cat "$T/live.pid")
check "the interactive demo prints where to look and waits for Ctrl-C" \
  wait_for 300 grep -q 'Press Ctrl-C' "$T/live.log"
port=$(sed -n 's#^  web page *http://127.0.0.1:\([0-9]*\)/$#\1#p' "$T/live.log")
check "/healthz answers on the printed port ($port)" \
  bash -c "[[ -n '$port' ]] && curl -fsS http://127.0.0.1:$port/healthz | grep -q ok"
check "/metrics answers on the printed port" \
  bash -c "curl -fsS http://127.0.0.1:$port/metrics | grep -q '^windlass_'"
envfile=$T/live/harness.env
if [[ -f $envfile ]]; then
  K="$(bash -c "source '$envfile'; echo \$WINDLASS_TEST_KUBECTL --kubeconfig \$KUBECONFIG")"
  check "the dev Deployment is there" wait_for 120 $K -n orders-dev get deployment dev-orders-worker
  wait_for 60 bash -c "[[ \$($K -n orders-dev get deployment dev-orders-worker -o jsonpath='{.spec.replicas}') == 1 ]]"
  $K -n orders-dev scale deployment dev-orders-worker --replicas=5 >/dev/null
  check "kubectl scale of a managed Deployment is healed back to 1 replica (as the demo says)" \
    wait_for 20 bash -c "[[ \$($K -n orders-dev get deployment dev-orders-worker -o jsonpath='{.spec.replicas}') == 1 ]]"
else
  bad "the demo wrote its harness env file"
fi
agent=$(pgrep -f "windlass run --config $T/live/windlass.yaml" | head -n 1)
check "the agent runs" test -n "$agent"
kill -INT "$demo_pid"
wait_for 60 bash -c "! kill -0 $demo_pid"
check "Ctrl-C (SIGINT) ends the demo" bash -c "! kill -0 $demo_pid 2>/dev/null"
demo_pid=""
sed 's/^/  | /' "$T/live.log" | tail -n 5
check "after Ctrl-C the agent is stopped" bash -c "[[ -n '$agent' ]] && ! kill -0 $agent 2>/dev/null"
check "after Ctrl-C nothing of the demo is left (processes, files)" nothing_left "$T/live"

# ---- 3. a failure is reported with its reason, and cleaned up -------------------------------
python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
print(s.getsockname()[1], flush=True)
time.sleep(900)' >"$T/holder.port" &
holder=$!
wait_for 10 test -s "$T/holder.port"
WINDLASS_DEMO_WORKDIR=$T/fail WINDLASS_DEMO_PORT=$(cat "$T/holder.port") "$DEMO" --check \
  >"$T/fail.log" 2>&1
rc=$?
sed 's/^/  | /' "$T/fail.log" | tail -n 6
check "a demo whose agent cannot start exits non-zero ($rc) and says why" \
  bash -c "[[ $rc != 0 ]] && grep -q 'demo: FAILED: windlass run' '$T/fail.log'"
check "after a failure nothing of the demo is left" nothing_left "$T/fail"
kill "$holder" 2>/dev/null
holder=""

echo "$passed passed, $failed failed"
((failed == 0))
