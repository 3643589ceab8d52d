#!/usr/bin/env bash
# install_test.sh WINDLASS: the in-cluster install (packaging/kubernetes) against the harness.
#   1. `windlass render packaging/kubernetes` passes `kubectl apply --server-side
#      --dry-run=server`, then applies; the Deployment's pods pass Pod Security "restricted";
#   2. the binary, run with the in-cluster credentials of that ServiceAccount (a token from
#      `kubectl create token`, the CA, KUBERNETES_SERVICE_HOST/PORT, the files in the folder
#      WINDLASS_TEST_SERVICE_ACCOUNT_DIR names), takes the Lease and syncs an environment, every
#      request as system:serviceaccount:windlass-system:windlass (the audit log says so);
#   3. another ServiceAccount's token, without those bindings, is refused.
# Needs the harness's exports in the environment. Ends with "N passed, M failed".
set -uo pipefail
WINDLASS=$(realpath "${1:?usage: install_test.sh WINDLASS}")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
for v in KUBECONFIG WINDLASS_TEST_KUBECTL WINDLASS_TEST_CA WINDLASS_TEST_GIT_ROOT \
         WINDLASS_TEST_GIT_HTTPS_URL WINDLASS_TEST_GIT_TOKEN WINDLASS_TEST_GIT_CA WINDLASS_TEST_AUDIT_LOG; do
  [[ -n ${!v:-} ]] || { echo "install_test: $v is not set: start the harness (tests/harness/up) and source its env file"; echo "0 passed, 1 failed"; exit 1; }
done
K="$WINDLASS_TEST_KUBECTL --kubeconfig $KUBECONFIG"
passed=0 failed=0
ok() { echo "PASS $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1"; failed=$((failed + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
wait_for() {
  local end=$((SECONDS + $1)); shift
  while ((SECONDS < end)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  return 1
}

W=$(mktemp -d "${TMPDIR:-/tmp}/windlass-install.XXXXXX")
id=$(basename "$W" | tr 'A-Z.' 'a-z-' | tail -c 7)
REPO=install-$id
APP_NS=orders-staging
agent=""
cleanup() {
  if [[ -n $agent ]]; then kill -9 "$agent" 2>/dev/null; wait "$agent" 2>/dev/null; fi
  $K delete namespace windlass-system "$APP_NS" --wait=false >/dev/null 2>&1
  $K delete clusterrole,clusterrolebinding windlass-apply windlass-impersonate >/dev/null 2>&1
  rm -rf "$W" "$WINDLASS_TEST_GIT_ROOT/$REPO.git"
}
trap cleanup EXIT

# ---- 1. the manifests ------------------------------------------------------------------------
"$WINDLASS" render "$ROOT/packaging/kubernetes" >"$W/install.yaml" 2>"$W/render.err"; rc=$?
check "windlass render packaging/kubernetes" bash -c "[[ $rc == 0 && -s '$W/install.yaml' ]]"
for kind in Namespace ServiceAccount ClusterRole ClusterRoleBinding Role RoleBinding ConfigMap \
            PersistentVolumeClaim Deployment Service NetworkPolicy; do
  grep -q "^kind: $kind\$" "$W/install.yaml" || bad "the install has a $kind"
done
# A server-side dry run of objects in a namespace that does not exist yet fails with NotFound
# (the dry-run Namespace is not stored), so the dry run goes in two steps: the cluster-scoped
# objects first, then, once the Namespace exists, everything.
python3 - "$W/install.yaml" "$W/cluster-scoped.yaml" <<'EOF'
import sys
docs = open(sys.argv[1]).read().split("\n---\n")
keep = [d for d in docs if "\nkind: Namespace\n" in "\n" + d + "\n" or "\nkind: ClusterRole" in "\n" + d]
open(sys.argv[2], "w").write("\n---\n".join(keep) + "\n")
EOF
$K apply --server-side --field-manager=install-test --dry-run=server -f "$W/cluster-scoped.yaml" >"$W/dry1.log" 2>&1; rc=$?
cat "$W/dry1.log"
check "server-side dry run of the cluster-scoped objects (Namespace, ClusterRoles, bindings)" test "$rc" = 0
$K create namespace windlass-system >/dev/null 2>&1
$K apply --server-side --field-manager=install-test --dry-run=server -f "$W/install.yaml" >"$W/dry2.log" 2>&1; rc=$?
cat "$W/dry2.log"
check "kubectl apply --server-side --dry-run=server of the whole install" test "$rc" = 0
check "the dry run created nothing" bash -c "! $K -n windlass-system get deployment windlass >/dev/null 2>&1"
$K apply --server-side --field-manager=install-test -f "$W/install.yaml" >"$W/apply.log" 2>&1; rc=$?
cat "$W/apply.log"
check "kubectl apply --server-side of the install" test "$rc" = 0
check "the Deployment runs 2 replicas with leader election in its config" \
  bash -c "[[ \$($K -n windlass-system get deployment windlass -o jsonpath='{.spec.replicas}') == 2 ]] &&
           $K -n windlass-system get configmap -o yaml | grep -q 'leaderElection: {namespace: windlass-system, name: windlass}'"
sa=system:serviceaccount:windlass-system:windlass
check "the ServiceAccount may apply anywhere, impersonate ServiceAccounts, hold its Lease" \
  bash -c "$K auth can-i create deployments.apps -n any-team --as $sa | grep -qx yes &&
           $K auth can-i impersonate serviceaccounts -n any-team --as $sa | grep -qx yes &&
           $K auth can-i update leases.coordination.k8s.io -n windlass-system --as $sa | grep -qx yes &&
           $K auth can-i create events -n windlass-system --as $sa | grep -qx yes &&
           $K auth can-i impersonate users --as $sa | grep -qx no"
# Pod Security admission (enforce: restricted on the namespace) rejects a non-compliant pod at
# creation; both pods being created shows the pod template is "restricted".
check "both pods are admitted under Pod Security \"restricted\"" \
  wait_for 30 bash -c "[[ \$($K -n windlass-system get pods -l app.kubernetes.io/name=windlass -o name | wc -l) == 2 ]]"
check "no pod creation was refused" \
  bash -c "! $K -n windlass-system get events --field-selector reason=FailedCreate -o name | grep -q ."

# ---- 2. the agent with the ServiceAccount's in-cluster credentials ----------------------------
git init -q --bare -b main "$WINDLASS_TEST_GIT_ROOT/$REPO.git"
git -C "$WINDLASS_TEST_GIT_ROOT/$REPO.git" config http.receivepack true
mkdir "$W/repo"
cp -r "$ROOT/examples/base" "$ROOT/examples/components" "$ROOT/examples/overlays" "$W/repo/"
git -C "$W/repo" init -q -b main
git -C "$W/repo" add -A
git -C "$W/repo" -c user.name=Installer -c user.email=install@example.com commit -qm examples
git -C "$W/repo" push -q "$WINDLASS_TEST_GIT_ROOT/$REPO.git" HEAD:main 2>/dev/null
printf '%s\n' "${WINDLASS_TEST_GIT_USER:-git}" >"$W/git-user"
printf '%s\n' "$WINDLASS_TEST_GIT_TOKEN" >"$W/git-token"

# The config: packaging/kubernetes/windlass.yaml with the harness's repository, a local state
# folder and a loopback address; no `cluster:`, so the in-cluster credentials.
python3 - "$ROOT/packaging/kubernetes/windlass.yaml" "$W/windlass.yaml" <<EOF
import sys
text = open(sys.argv[1]).read()
text = text.replace("url: https://git.example.com/platform/manifests.git",
    "url: $WINDLASS_TEST_GIT_HTTPS_URL/$REPO.git\n  credentials: {usernameFile: $W/git-user, passwordFile: $W/git-token, caFile: $WINDLASS_TEST_GIT_CA}")
text = text.replace("interval: 1m", "interval: 2s")
text = text.replace("stateDir: /var/lib/windlass", "stateDir: $W/state")
text = text.replace('address: "0.0.0.0:9797"', 'address: "127.0.0.1:0"')
text = text.replace("    branch: env/prod\n    path: overlays/prod",
    "    branch: main\n    path: overlays/staging\n    namespace: $APP_NS\n    healthTimeout: 2m")
open(sys.argv[2], "w").write(text)
EOF
check "the test config keeps the install's leader election and has no cluster: (in-cluster)" \
  bash -c "grep -q 'leaderElection: {namespace: windlass-system, name: windlass}' '$W/windlass.yaml' &&
           ! grep -q '^cluster:' '$W/windlass.yaml'"

api=$(grep -o 'https://127\.0\.0\.1:[0-9]*' "$KUBECONFIG" | head -n 1)
mkdir -p "$W/sa"
$K -n windlass-system create token windlass --duration=1h >"$W/sa/token" 2>"$W/token.err"
cp "$WINDLASS_TEST_CA" "$W/sa/ca.crt"
echo windlass-system >"$W/sa/namespace"
check "kubectl create token windlass" test -s "$W/sa/token"
in_cluster() {
  env -u KUBECONFIG KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT="${api##*:}" \
    WINDLASS_TEST_SERVICE_ACCOUNT_DIR="$1" "${@:2}"
}
# (env execs the agent, so $! is the agent itself)
env -u KUBECONFIG KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT="${api##*:}" \
  WINDLASS_TEST_SERVICE_ACCOUNT_DIR="$W/sa" \
  "$WINDLASS" run --config "$W/windlass.yaml" --log-format json >"$W/agent.log" 2>&1 &
agent=$!
check "the agent holds the Lease windlass-system/windlass" \
  wait_for 60 bash -c "[[ -n \$($K -n windlass-system get lease windlass -o jsonpath='{.spec.holderIdentity}' 2>/dev/null) ]]"
check "the agent syncs the environment: the staging Deployments exist" \
  wait_for 90 bash -c "$K -n $APP_NS get deployment orders-api orders-worker >/dev/null"
check "the sync is recorded as Succeeded and Healthy" \
  wait_for 150 bash -c "'$WINDLASS' history --config '$W/windlass.yaml' --env prod -o json 2>/dev/null |
                        grep '\"reason\":\"Succeeded\"' | grep -q '\"Healthy\"'"
sa_user=system:serviceaccount:windlass-system:windlass
check "the objects were created as $sa_user (audit log)" \
  bash -c "grep '\"username\":\"$sa_user\"' '$WINDLASS_TEST_AUDIT_LOG' | grep '\"verb\":\"patch\"' |
           grep -q '\"namespace\":\"$APP_NS\"'"
check "status reads the cluster with the in-cluster credentials" \
  bash -c "in_cluster() { env -u KUBECONFIG KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT=${api##*:} WINDLASS_TEST_SERVICE_ACCOUNT_DIR=\$1 \"\${@:2}\"; }
           in_cluster '$W/sa' '$WINDLASS' status --config '$W/windlass.yaml' | grep -q 'sync: *in sync'"
if ! kill -0 "$agent" 2>/dev/null; then echo "the agent exited:"; tail -n 20 "$W/agent.log"; fi
kill -TERM "$agent" 2>/dev/null
# (a child that exited stays a zombie until waited for: state Z)
check "the agent stops on SIGTERM" \
  wait_for 30 bash -c "[[ ! -e /proc/$agent || \$(awk '{print \$3}' /proc/$agent/stat) == Z ]]"
wait "$agent" 2>/dev/null
agent=""
check "no agent of this test is left running" bash -c "! pgrep -f '[w]indlass run --config $W/windlass.yaml' >/dev/null"

# ---- 3. another ServiceAccount, without the install's bindings, is refused -------------------
$K -n windlass-system create serviceaccount nobody >/dev/null
mkdir -p "$W/nobody"
$K -n windlass-system create token nobody --duration=1h >"$W/nobody/token"
cp "$W/sa/ca.crt" "$W/sa/namespace" "$W/nobody/"
in_cluster "$W/nobody" "$WINDLASS" sync --config "$W/windlass.yaml" --env prod >"$W/nobody.log" 2>&1; rc=$?
check "a ServiceAccount without the install's RBAC cannot sync (exit $rc)" \
  bash -c "[[ $rc != 0 ]] && grep -qi 'forbidden' '$W/nobody.log'"

echo "$passed passed, $failed failed"
((failed == 0))
