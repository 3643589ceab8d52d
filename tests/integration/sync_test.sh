#!/usr/bin/env bash
# sync_test.sh: `windlass diff` and `windlass sync` end to end against the real
# harness (kube-apiserver + KWOK, Git over HTTPS). Needs the harness's exports
# in the environment (tests/harness/up ENVFILE; source it) and the windlass
# binary as $1. Fails, never skips, when a piece is missing. Ends with
# "N passed, M failed".
set -uo pipefail
WINDLASS=$(realpath "${1:?usage: sync_test.sh WINDLASS}")
HERE=$(cd "$(dirname "$0")" && pwd)
for v in KUBECONFIG WINDLASS_TEST_RESTRICTED_KUBECONFIG WINDLASS_TEST_GIT_ROOT WINDLASS_TEST_GIT_HTTPS_URL \
         WINDLASS_TEST_GIT_TOKEN WINDLASS_TEST_GIT_CA WINDLASS_TEST_AUDIT_LOG WINDLASS_TEST_KUBECTL; do
  [[ -n ${!v:-} ]] || { echo "sync_test: $v is not set: start the harness (tests/harness/up) and source its env file"; echo "0 passed, 1 failed"; exit 1; }
done
K="$WINDLASS_TEST_KUBECTL --kubeconfig $KUBECONFIG"
passed=0 failed=0
ok() { echo "PASS $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1"; failed=$((failed + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }

W=$(mktemp -d "${TMPDIR:-/tmp}/windlass-sync.XXXXXX")
id=$(basename "$W" | tr 'A-Z.' 'a-z-' | tail -c 7)
NS="wl-sync-$id"
REPO="sync-$id"
trap '$K delete namespace "$NS" "$NS-fresh" "$NS-locked" --wait=false >/dev/null 2>&1; rm -rf "$W" "$WINDLASS_TEST_GIT_ROOT/$REPO.git"' EXIT

git init -q --bare -b main "$WINDLASS_TEST_GIT_ROOT/$REPO.git"
git -C "$WINDLASS_TEST_GIT_ROOT/$REPO.git" config http.receivepack true
git clone -q "$WINDLASS_TEST_GIT_ROOT/$REPO.git" "$W/work" 2>/dev/null
cd "$W/work"
git config user.name "Ada Author"; git config user.email ada@example.com
mkdir -p app
cat > app/kustomization.yaml <<'YAML'
resources: [config.yaml, web.yaml, service.yaml]
YAML
cat > app/config.yaml <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {level: info}
YAML
cat > app/web.yaml <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "example.com/web:1.0"}]
YAML
cat > app/service.yaml <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
YAML
commit() { git add -A && git commit -qm "$1" && git push -q origin HEAD:main 2>/dev/null; }
commit "first release"

printf '%s\n' "$WINDLASS_TEST_GIT_TOKEN" > "$W/token"
printf '%s\n' "${WINDLASS_TEST_GIT_USER:-git}" > "$W/user"
write_config() {  # KUBECONFIG-PATH
  cat > "$W/windlass.yaml" <<YAML
apiVersion: windlass.dev/v1alpha1
kind: Agent
repository:
  url: $WINDLASS_TEST_GIT_HTTPS_URL/$REPO.git
  credentials: {usernameFile: $W/user, passwordFile: $W/token, caFile: $WINDLASS_TEST_GIT_CA}
cluster: {kubeconfig: $1}
stateDir: $W/state
environments:
- name: dev
  branch: main
  path: app
  namespace: $NS
  healthTimeout: 60s
YAML
}
write_config "$KUBECONFIG"
wl() { "$WINDLASS" "$@" --config "$W/windlass.yaml"; }

# The requests windlass made in the namespace or to it since line $1 of the audit log, one a
# line: VERB RESOURCE NAME (- for a collection), then "dry" for a dry run.
windlass_requests_since() {
  python3 - "$WINDLASS_TEST_AUDIT_LOG" "$1" "$NS" <<'PY'
import json, sys
log, start, ns = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(log) as f:
    for i, line in enumerate(f):
        if i < start: continue
        try: e = json.loads(line)
        except ValueError: continue
        if e.get("stage") != "ResponseComplete" or not e.get("userAgent", "").startswith("windlass/"):
            continue
        ref = e.get("objectRef", {})
        if ref.get("namespace") == ns or (ref.get("resource") == "namespaces" and ref.get("name") == ns):
            dry = "dry" if "dryRun" in e.get("requestURI", "") else ""
            print(e.get("verb"), ref.get("resource"), ref.get("name") or "-", dry)
PY
}
# The writes (not dry runs) since line $1, one a line as RESOURCE NAME VERB, then their count.
writes_since() {
  local out
  out=$(windlass_requests_since "$1" | awk '$1 ~ /^(create|update|patch|delete)$/ && $4 != "dry" {print $2, $3, $1}')
  [[ -n $out ]] && printf '%s\n' "$out"
  printf '%s' "$out" | grep -c '^' || true
}
# GETs of single objects since line $1 (the namespace and the inventory parent aside).
object_gets_since() {
  windlass_requests_since "$1" | awk '$1 == "get" && $2 != "namespaces" && $3 != "-" && $3 != "windlass-dev"' |
    grep -c '^' || true
}
audit_mark() { wc -l < "$WINDLASS_TEST_AUDIT_LOG"; }

# 1. diff before anything exists: differences, exit 1.
wl diff --env dev > "$W/diff1.txt" 2>&1; rc=$?
check "diff before the first sync exits 1 and lists creations" \
  bash -c "[[ $rc -eq 1 ]] && grep -q '3 to create, 0 to update' '$W/diff1.txt'"

# 2. First sync creates everything.
wl sync --env dev > "$W/sync1.txt" 2>&1; rc=$?
check "first sync succeeds" test $rc -eq 0
check "first sync created the objects" bash -c "$K -n $NS get configmap/settings deployment/web service/web >/dev/null"
check "members carry the ApplySet label" bash -c "$K -n $NS get configmap settings -o jsonpath='{.metadata.labels}' | grep -q applyset.kubernetes.io/part-of"
check "the Deployment became available (KWOK)" bash -c "$K -n $NS rollout status deploy/web --timeout=60s >/dev/null"

# 3. Second sync writes nothing (proved by the audit log), and diff is clean.
mark=$(audit_mark)
wl sync --env dev > "$W/sync2.txt" 2>&1; rc=$?
sleep 1
writes=$(writes_since "$mark" | tail -n 1)
check "second sync succeeds and writes nothing (audit log: $writes writes)" bash -c "[[ $rc -eq 0 && $writes -eq 0 ]]"
gets=$(object_gets_since "$mark")
check "a steady-state sync reads the live objects by LIST, not by a GET each ($gets GETs)" test "$gets" -eq 0
wl diff --env dev > "$W/diff2.txt" 2>&1; rc=$?
check "diff after the sync exits 0" test $rc -eq 0

# 4. A commit changing one field updates just that object.
sed -i 's/level: info/level: debug/' app/config.yaml && commit "debug logging"
mark=$(audit_mark)
wl sync --env dev > "$W/sync3.txt" 2>&1; rc=$?
sleep 1
changed=$(writes_since "$mark")
count=$(printf '%s\n' "$changed" | tail -n 1)
first=$(printf '%s\n' "$changed" | head -n 1)
echo "writes: $(printf '%s' "$changed" | tr '\n' ';')"
check "one changed field writes only that object" bash -c "[[ $rc -eq 0 && $count -eq 1 && '$first' == 'configmaps settings patch' ]]"
check "the change reached the cluster" bash -c "[[ \$($K -n $NS get configmap settings -o jsonpath='{.data.level}') == debug ]]"

# 4b. A Secret: created, rotated in Git (applied, although every printed value is masked),
# pruned; its values appear in no output and no history record.
old_pw=c2VjcmV0LW9uZQ== new_pw=c2VjcmV0LXR3bw==   # "secret-one", "secret-two"
printf 'apiVersion: v1\nkind: Secret\nmetadata: {name: db}\ndata: {password: %s}\n' "$old_pw" > app/secret.yaml
sed -i 's/resources: \[/resources: [secret.yaml, /' app/kustomization.yaml && commit "db secret"
wl sync --env dev > "$W/sec1.txt" 2>&1; rc=$?
check "a Secret is created" bash -c "[[ $rc -eq 0 && \$($K -n $NS get secret db -o jsonpath='{.data.password}') == $old_pw ]]"
sed -i "s/$old_pw/$new_pw/" app/secret.yaml && commit "rotate the db password"
wl diff --env dev > "$W/sec2.txt" 2>&1; rc=$?
check "diff of a rotated Secret exits 1 and shows the key as changed, masked" \
  bash -c "[[ $rc -eq 1 ]] && grep -q 'password: .\*\*\* (changed)' '$W/sec2.txt'"
wl sync --env dev > "$W/sec3.txt" 2>&1; rc=$?
check "a Secret rotated in Git is applied" bash -c "[[ $rc -eq 0 && \$($K -n $NS get secret db -o jsonpath='{.data.password}') == $new_pw ]]"
git rm -q app/secret.yaml && sed -i 's/secret.yaml, //' app/kustomization.yaml && commit "drop the secret"
wl sync --env dev > "$W/sec4.txt" 2>&1; rc=$?
check "a Secret removed from Git is pruned" bash -c "[[ $rc -eq 0 ]] && ! $K -n $NS get secret db >/dev/null 2>&1"
check "no Secret value (plain or base64) in any output or the history" \
  bash -c "! grep -rqE 'c2VjcmV0LW9uZQ|c2VjcmV0LXR3bw|secret-one|secret-two' '$W'/sec*.txt '$W/state/history'"

# 4c. An immutable field (a Deployment's selector): refused with the object, the field and
# the way out; with windlass.dev/force: enabled the object is deleted and recreated.
uid_before=$($K -n "$NS" get deployment web -o jsonpath='{.metadata.uid}')
sed -i 's/matchLabels: {app: web}/matchLabels: {app: web, tier: front}/; s/labels: {app: web}/labels: {app: web, tier: front}/' app/web.yaml
commit "new selector"
wl sync --env dev > "$W/imm1.txt" 2>&1; rc=$?
check "a change to an immutable field fails, naming the object, the field and force" \
  bash -c "[[ $rc -ne 0 ]] && grep -q 'apps/Deployment $NS/web' '$W/imm1.txt' && grep -q 'spec.selector' '$W/imm1.txt' && grep -q 'windlass.dev/force: enabled' '$W/imm1.txt'"
sed -i 's/^metadata: {name: web}$/metadata: {name: web, annotations: {windlass.dev\/force: enabled}}/' app/web.yaml
commit "force the new selector"
wl sync --env dev > "$W/imm2.txt" 2>&1; rc=$?
uid_after=$($K -n "$NS" get deployment web -o jsonpath='{.metadata.uid}')
check "with windlass.dev/force: enabled it is deleted and recreated, and recorded as replace" \
  bash -c "[[ $rc -eq 0 && -n '$uid_after' && '$uid_before' != '$uid_after' ]] &&
           [[ \$($K -n $NS get deployment web -o jsonpath='{.spec.selector.matchLabels.tier}') == front ]] &&
           '$WINDLASS' history --config '$W/windlass.yaml' --env dev -o json | tail -n 1 | grep -q '\"action\":\"replace\"'"

# 5. Deleting a file prunes that object and nothing else; foreign objects are never touched.
$K -n $NS create configmap not-ours --from-literal=a=b >/dev/null
git rm -q app/service.yaml && sed -i 's/, service.yaml//' app/kustomization.yaml && commit "drop the service"
wl sync --env dev > "$W/sync4.txt" 2>&1; rc=$?
check "removing a file prunes its object" bash -c "[[ $rc -eq 0 ]] && ! $K -n $NS get service web >/dev/null 2>&1"
check "objects windlass did not create are untouched" bash -c "$K -n $NS get configmap not-ours >/dev/null && $K -n $NS get deployment web >/dev/null"

# 6. An empty render is refused.
printf 'resources: []\ncommonLabels: {empty: "yes"}\n' > app/kustomization.yaml && commit "empty"
wl sync --env dev > "$W/sync5.txt" 2>&1; rc=$?
check "an empty render is refused and deletes nothing" bash -c "[[ $rc -ne 0 ]] && grep -q 'refusing to prune' '$W/sync5.txt' && $K -n $NS get deployment web >/dev/null"
git revert --no-edit HEAD >/dev/null && git push -q origin HEAD:main 2>/dev/null

# 7. An invalid object aborts the whole sync before any write.
cat > app/bad.yaml <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata: {name: extra}
data: {k: v}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: broken}
spec:
  replicas: -3
  selector: {matchLabels: {app: broken}}
  template:
    metadata: {labels: {app: broken}}
    spec:
      containers: [{name: c, image: "example.com/c:1"}]
YAML
sed -i 's/resources: \[/resources: [bad.yaml, /' app/kustomization.yaml && commit "broken"
mark=$(audit_mark)
wl sync --env dev > "$W/sync6.txt" 2>&1; rc=$?
sleep 1
writes=$(writes_since "$mark" | tail -n 1)
check "an invalid object aborts the sync before any write, naming it" \
  bash -c "[[ $rc -ne 0 && $writes -eq 0 ]] && grep -q 'apps/Deployment $NS/broken' '$W/sync6.txt' && ! $K -n $NS get configmap extra >/dev/null 2>&1"
# 7b. The same into a namespace the sync creates: nothing but the namespace is written.
sed -e 's/- name: dev/- name: fresh/' -e "s/namespace: $NS\$/namespace: $NS-fresh/" \
  "$W/windlass.yaml" > "$W/windlass-fresh.yaml"
"$WINDLASS" sync --config "$W/windlass-fresh.yaml" --env fresh > "$W/sync6b.txt" 2>&1; rc=$?
check "an invalid object in a namespace the sync creates aborts before any object is written" \
  bash -c "[[ $rc -ne 0 ]] && grep -q 'apps/Deployment $NS-fresh/broken' '$W/sync6b.txt' &&
           [[ -z \$($K -n $NS-fresh get configmaps,deployments,services -l applyset.kubernetes.io/part-of -o name 2>/dev/null) ]]"
git rm -q app/bad.yaml && sed -i 's/bad.yaml, //' app/kustomization.yaml && commit "fixed"

# 7c. A history that cannot be written stops the sync before the first cluster write.
sed -e 's/- name: dev/- name: locked/' -e "s/namespace: $NS\$/namespace: $NS-locked/" \
  "$W/windlass.yaml" > "$W/windlass-locked.yaml"
mkdir -p "$W/state/history/locked.jsonl"   # a folder where the file should be
mark=$(audit_mark)
"$WINDLASS" sync --config "$W/windlass-locked.yaml" --env locked > "$W/sync6c.txt" 2>&1; rc=$?
sleep 1
check "a sync whose history cannot be written does not run, and says why" \
  bash -c "[[ $rc -ne 0 ]] && grep -q 'the history cannot be written, so nothing was synced' '$W/sync6c.txt' &&
           ! $K get namespace $NS-locked >/dev/null 2>&1"
rmdir "$W/state/history/locked.jsonl"

# 8. A CRD and its custom resources in one commit apply in order.
cat > app/crd.yaml <<'YAML'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.test.windlass.dev}
spec:
  group: test.windlass.dev
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
---
apiVersion: test.windlass.dev/v1
kind: Widget
metadata: {name: gizmo}
spec: {size: 3}
YAML
sed -i 's/resources: \[/resources: [crd.yaml, /' app/kustomization.yaml && commit "widgets"
wl sync --env dev > "$W/sync7.txt" 2>&1; rc=$?
check "a CRD and its custom resource apply in one sync" bash -c "[[ $rc -eq 0 ]] && $K -n $NS get widgets.test.windlass.dev gizmo >/dev/null"

# 9. A Deployment that never becomes available is reported Degraded.
cat > app/stuck.yaml <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: stuck}
spec:
  replicas: 1
  progressDeadlineSeconds: 3
  selector: {matchLabels: {app: stuck}}
  template:
    metadata: {labels: {app: stuck}}
    spec:
      nodeSelector: {no-such-node: "true"}
      containers: [{name: c, image: "example.com/c:1"}]
YAML
sed -i 's/resources: \[/resources: [stuck.yaml, /' app/kustomization.yaml && commit "stuck"
wl sync --env dev > "$W/sync8.txt" 2>&1; rc=$?
check "a Deployment past its progress deadline makes the sync Degraded" \
  bash -c "[[ $rc -ne 0 ]] && grep -q 'HealthFailed' '$W/sync8.txt' && grep -q 'ProgressDeadlineExceeded' '$W/sync8.txt'"
git rm -q app/stuck.yaml && sed -i 's/stuck.yaml, //' app/kustomization.yaml && commit "unstick"

# 10. The restricted user's 403 gives a clear error.
cp "$W/windlass.yaml" "$W/windlass-admin.yaml"
write_config "$WINDLASS_TEST_RESTRICTED_KUBECONFIG"
wl sync --env dev > "$W/sync9.txt" 2>&1; rc=$?
check "a forbidden request fails with a clear message" bash -c "[[ $rc -ne 0 ]] && grep -qi 'forbidden' '$W/sync9.txt'"
cp "$W/windlass-admin.yaml" "$W/windlass.yaml"

# 10b. serviceAccountName: every request impersonates that ServiceAccount, so it gets
# only what the ServiceAccount may do.
$K -n "$NS" create serviceaccount deployer >/dev/null
sed "s/^  healthTimeout: 60s\$/  healthTimeout: 60s\n  serviceAccountName: deployer/" "$W/windlass.yaml" > "$W/windlass-sa.yaml"
"$WINDLASS" sync --config "$W/windlass-sa.yaml" --env dev > "$W/sync9b.txt" 2>&1; rc=$?
check "with serviceAccountName, a ServiceAccount without rights is refused, named" \
  bash -c "[[ $rc -ne 0 ]] && grep -q 'system:serviceaccount:$NS:deployer' '$W/sync9b.txt'"
$K create clusterrolebinding "$NS-deployer" --clusterrole=cluster-admin --serviceaccount="$NS:deployer" >/dev/null
mark=$(audit_mark)
"$WINDLASS" sync --config "$W/windlass-sa.yaml" --env dev > "$W/sync9c.txt" 2>&1; rc=$?
$K delete clusterrolebinding "$NS-deployer" >/dev/null 2>&1
impersonated=$(tail -n +"$((mark + 1))" "$WINDLASS_TEST_AUDIT_LOG" | grep '"userAgent":"windlass/' | grep -c "\"impersonatedUser\":{\"username\":\"system:serviceaccount:$NS:deployer\"" || true)
check "once granted, the sync runs as that ServiceAccount ($impersonated impersonated requests)" \
  bash -c "[[ $rc -eq 0 && $impersonated -gt 0 ]]"

# 11. The API server becomes unreachable in the middle of a sync (after the
# writes, while waiting for health): the sync fails and is recorded; the next
# sync converges.
api=${WINDLASS_TEST_API_SERVER#https://}
python3 "$HERE/tcp_proxy.py" "$W/proxy.port" "${api%:*}" "${api##*:}" &
proxy=$!
for _ in $(seq 50); do [[ -s $W/proxy.port ]] && break; sleep 0.1; done
sed "s#https://127\.0\.0\.1:[0-9]*#https://127.0.0.1:$(cat "$W/proxy.port")#" "$KUBECONFIG" > "$W/proxy.kubeconfig"
write_config "$W/proxy.kubeconfig"
sed -i 's/healthTimeout: 60s/healthTimeout: 20s/' "$W/windlass.yaml"
cat > app/slow.yaml <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: slow}
spec:
  replicas: 1
  minReadySeconds: 30
  selector: {matchLabels: {app: slow}}
  template:
    metadata: {labels: {app: slow}}
    spec:
      containers: [{name: c, image: "example.com/c:1"}]
YAML
sed -i 's/resources: \[/resources: [slow.yaml, /' app/kustomization.yaml && commit "slow"
before=$(wl history --env dev -o json | wc -l)
wl sync --env dev > "$W/sync10.txt" 2>&1 &
syncpid=$!
for _ in $(seq 300); do $K -n $NS get deployment slow >/dev/null 2>&1 && break; sleep 0.1; done
kill "$proxy"; wait "$proxy" 2>/dev/null
wait "$syncpid"; rc=$?
after=$(wl history --env dev -o json | wc -l)
check "an API server lost mid-sync fails the sync and the failure is recorded" \
  bash -c "[[ $rc -ne 0 && $after -eq $((before + 1)) ]] && '$WINDLASS' history --config '$W/windlass.yaml' --env dev | tail -n 1 | grep -q HealthFailed"
cp "$W/windlass-admin.yaml" "$W/windlass.yaml"
wl sync --env dev > "$W/sync11.txt" 2>&1; rc=$?
check "the next sync converges" bash -c "[[ $rc -eq 0 ]] && $K -n $NS rollout status deploy/slow --timeout=60s >/dev/null"

# 12. The history records every sync and verifies; a flipped byte is detected.
records=$(wl history --env dev -o json | wc -l)
check "every sync is in the history ($records records)" test "$records" -ge 11
check "the history verifies" bash -c "'$WINDLASS' history verify --config '$W/windlass.yaml' | grep -q 'dev: history verified'"
check "the history never holds the Git token" bash -c "! grep -q '$WINDLASS_TEST_GIT_TOKEN' '$W/state/history/dev.jsonl'"
python3 - "$W/state/history/dev.jsonl" <<'PY'
import sys
p = sys.argv[1]
data = bytearray(open(p, "rb").read())
i = data.index(b"debug logging")
data[i] ^= 0x20
open(p, "wb").write(bytes(data))
PY
"$WINDLASS" history verify --config "$W/windlass.yaml" > "$W/verify.txt" 2>&1; rc=$?
check "a flipped byte in the history is detected" bash -c "[[ $rc -ne 0 ]] && grep -q 'dev.jsonl:' '$W/verify.txt'"

if ((failed)); then
  for f in "$W"/*.txt; do echo "--- $(basename "$f")"; tail -n 15 "$f"; done
fi
echo "$passed passed, $failed failed"
((failed == 0))
