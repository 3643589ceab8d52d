#!/usr/bin/env bash
# promote_test.sh: promotion, rollback, release, rollbackOnFailure and `follows` end to end,
# with `windlass run` against the real harness (kube-apiserver + controller-manager + KWOK,
# Git over HTTPS). Needs the harness's exports in the environment and the windlass binary as
# $1. Fails, never skips, when a piece is missing. Ends with "N passed, M failed".
set -uo pipefail
WINDLASS=$(realpath "${1:?usage: promote_test.sh WINDLASS}")
for v in KUBECONFIG WINDLASS_TEST_GIT_ROOT WINDLASS_TEST_GIT_HTTPS_URL WINDLASS_TEST_GIT_TOKEN \
         WINDLASS_TEST_GIT_CA WINDLASS_TEST_KUBECTL; do
  [[ -n ${!v:-} ]] || { echo "promote_test: $v is not set: start the harness (tests/harness/up) and source its env file"; echo "0 passed, 1 failed"; exit 1; }
done
K="$WINDLASS_TEST_KUBECTL --kubeconfig $KUBECONFIG"
passed=0 failed=0
ok() { echo "PASS $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1"; failed=$((failed + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
wait_for() {  # SECONDS COMMAND...: true as soon as COMMAND succeeds
  local end=$((SECONDS + $1)); shift
  while ((SECONDS < end)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  return 1
}

W=$(mktemp -d "${TMPDIR:-/tmp}/windlass-promote.XXXXXX")
id=$(basename "$W" | tr 'A-Z.' 'a-z-' | tail -c 7)
NS="wl-prom-$id"
REPO="promote-$id"
agent=
cleanup() {
  [[ -n $agent ]] && kill -9 "$agent" 2>/dev/null
  $K delete namespace "$NS-dev" "$NS-prod" "$NS-dr" "$NS-qa" "$NS-uat" "$NS-canary" --wait=false >/dev/null 2>&1
  rm -rf "$W" "$WINDLASS_TEST_GIT_ROOT/$REPO.git"
}
trap cleanup EXIT

# ---- the repository: main → dev, env/prod → prod (dr follows prod), paths → qa and uat ----
git init -q --bare -b main "$WINDLASS_TEST_GIT_ROOT/$REPO.git"
git -C "$WINDLASS_TEST_GIT_ROOT/$REPO.git" config http.receivepack true
git clone -q "$WINDLASS_TEST_GIT_ROOT/$REPO.git" "$W/work" 2>/dev/null
cd "$W/work"
git config user.name "Ada Author"; git config user.email ada@example.com
mkdir -p app
printf 'resources: [config.yaml, web.yaml]\n' > app/kustomization.yaml
level() {  # LEVEL [NODESELECTOR]: the app at that level; a node selector no node has keeps it unavailable
  printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {level: %s}\n' "$1" > app/config.yaml
  local selector=
  [[ -n ${2:-} ]] && selector="nodeSelector: {pool: $2}"
  cat > app/web.yaml <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  progressDeadlineSeconds: 8
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      $selector
      containers: [{name: web, image: "example.com/web:$1"}]
YAML
}
commit_to() {  # BRANCH MESSAGE: commit what changed and push it
  git add -A && git commit -qm "$2" && git push -q origin "HEAD:$1" 2>/dev/null
}
level v1
commit_to main "v1" && git push -q origin HEAD:env/prod 2>/dev/null && git push -q origin HEAD:env/canary 2>/dev/null
git checkout -q -b paths
mkdir -p overlays/qa overlays/uat
for o in qa uat; do
  cat > overlays/$o/kustomization.yaml <<YAML
# the $o overlay
resources: [../../app]
images:
- name: example.com/web   # the web image
  newTag: "1.0"
YAML
done
sed -i 's/newTag: "1.0"/newTag: "2.0"/' overlays/qa/kustomization.yaml
commit_to paths "overlays"
git checkout -q main

printf '%s\n' "$WINDLASS_TEST_GIT_TOKEN" > "$W/token"
printf '%s\n' "${WINDLASS_TEST_GIT_USER:-git}" > "$W/user"
cat > "$W/windlass.yaml" <<YAML
apiVersion: windlass.dev/v1alpha1
kind: Agent
repository:
  url: $WINDLASS_TEST_GIT_HTTPS_URL/$REPO.git
  credentials: {usernameFile: $W/user, passwordFile: $W/token, caFile: $WINDLASS_TEST_GIT_CA}
  interval: 1s
cluster: {kubeconfig: $KUBECONFIG}
stateDir: $W/state
environments:
- {name: dev, branch: main, path: app, namespace: $NS-dev, healthTimeout: 60s}
- name: prod
  branch: env/prod
  path: app
  namespace: $NS-prod
  healthTimeout: 30s
  rollbackOnFailure: true
  promotion: {from: dev}
- {name: dr, follows: prod, path: app, namespace: $NS-dr, healthTimeout: 60s}
- {name: canary, branch: env/canary, path: app, namespace: $NS-canary, healthTimeout: 60s, promotion: {from: dev, auto: true}}
- {name: qa, branch: paths, path: overlays/qa, namespace: $NS-qa, healthTimeout: 60s}
- {name: uat, branch: paths, path: overlays/uat, namespace: $NS-uat, healthTimeout: 60s}
YAML
wl() { "$WINDLASS" "$@" --config "$W/windlass.yaml"; }
at() { $K -n "$1" get configmap settings -o jsonpath='{.data.level}' 2>/dev/null; }
is_at() { [[ $(at "$1") == "$2" ]]; }
head_of() { git ls-remote origin "refs/heads/$1" 2>/dev/null | cut -f1; }
last_record() { wl history --env "$1" -o json | tail -n 1; }
healthy_at() {  # ENV COMMIT: the last record of ENV is a Healthy success of COMMIT
  last_record "$1" | grep -q "\"commit\":\"$2\".*\"reason\":\"Succeeded\".*\"health\":{\"status\":\"Healthy\""
}

"$WINDLASS" run --config "$W/windlass.yaml" --log-format json 2>> "$W/agent.log" &
agent=$!
v1=$(git rev-parse HEAD)
check "dev and prod run v1 Healthy" wait_for 90 bash -c "$(declare -f wl last_record healthy_at); W=$W WINDLASS=$WINDLASS; healthy_at dev $v1 && healthy_at prod $v1"
check "dr, which follows prod, runs prod's Healthy revision" wait_for 60 is_at "$NS-dr" v1

# ---- promote: gates, then the branch moves ---------------------------------------------
level v2 && commit_to main "v2"
v2=$(git rev-parse HEAD)
check "v2 reaches dev Healthy (and not prod)" wait_for 90 bash -c "$(declare -f wl last_record healthy_at); W=$W WINDLASS=$WINDLASS; healthy_at dev $v2"
check "prod stays at v1" is_at "$NS-prod" v1
check "canary (promotion.auto from dev) is promoted to v2 by the agent and applies it" wait_for 60 bash -c \
  "$(declare -f wl); W=$W WINDLASS=$WINDLASS; wl history --env canary -o json | grep '\"trigger\":\"promotion\"' | grep '\"actor\":\"windlass\"' | grep -q '\"commit\":\"$v2\"'"
check "canary runs v2" wait_for 30 is_at "$NS-canary" v2
printf 'resources: [missing.yaml]\n' > app/kustomization.yaml && commit_to main "broken render"
broken=$(git rev-parse HEAD)
check "the broken commit fails in dev" wait_for 30 bash -c "$(declare -f wl last_record); W=$W WINDLASS=$WINDLASS; last_record dev | grep -q '\"commit\":\"$broken\".*RenderFailed'"
out=$(wl promote --from dev --to prod --actor alice 2>&1); rc=$?
check "promoting dev's last (failed) sync is refused with exit 1, naming the gate" \
  bash -c "[[ $rc == 1 ]] && grep -q 'gate: the last sync of dev at ${broken:0:7}' <<<'$out'"
check "a refused promotion pushes nothing" bash -c "[[ \$(git ls-remote origin refs/heads/env/prod | cut -f1) == $v1 ]]"
out=$(wl promote --from dev --to prod --revision "${v2:0:10}" --actor alice 2>&1); rc=$?
check "promoting v2, Healthy in dev, succeeds by fast-forward" bash -c "[[ $rc == 0 ]] && grep -q 'fast-forward' <<<'$out'"
check "env/prod moved to v2" bash -c "[[ \$(git ls-remote origin refs/heads/env/prod | cut -f1) == $v2 ]]"
check "prod applies v2" wait_for 60 is_at "$NS-prod" v2
check "prod's record names the promotion, dev's revision and alice" wait_for 60 bash -c \
  "$(declare -f wl); W=$W WINDLASS=$WINDLASS; wl history --env prod -o json | grep '\"trigger\":\"promotion\"' | grep '\"actor\":\"alice\"' | grep -q '\"promotion\":{\"from\":\"dev\",\"revision\":\"$v2\"}'"
check "the record carries the ConfigMap's diff" bash -c \
  "$(declare -f wl); W=$W WINDLASS=$WINDLASS; wl history --env prod -o json | grep '\"trigger\":\"promotion\"' | grep -q 'level: v2'"
check "dr follows prod to v2 once it is Healthy" wait_for 60 is_at "$NS-dr" v2
git checkout -q "$v2" -- app && commit_to main "fix render"

# ---- rollbackOnFailure: a commit whose Deployment never becomes available ---------------
git fetch -q origin && git checkout -q -B prodwork origin/env/prod
level v3 nowhere && commit_to env/prod "v3: unschedulable"
v3=$(git rev-parse HEAD)
check "prod applies v3, its health fails and it is rolled back to v2" wait_for 120 bash -c \
  "$(declare -f wl); W=$W WINDLASS=$WINDLASS; wl history --env prod -o json | grep '\"trigger\":\"rollback\"' | grep '\"actor\":\"windlass\"' | grep -q '\"commit\":\"$v2\"'"
check "the failed sync of v3 is recorded" bash -c \
  "$(declare -f wl); W=$W WINDLASS=$WINDLASS; wl history --env prod -o json | grep '\"commit\":\"$v3\"' | grep -q HealthFailed"
check "prod runs v2 again" wait_for 30 is_at "$NS-prod" v2
check "dr never took the unhealthy v3" is_at "$NS-dr" v2
level v4 && commit_to env/prod "v4"
v4=$(git rev-parse HEAD)
sleep 5
check "while held, prod does not take new commits" is_at "$NS-prod" v2
check "status says held, by whom, and how many commits wait" wait_for 20 bash -c \
  "$(declare -f wl); W=$W WINDLASS=$WINDLASS; wl status --env prod | grep -q 'hold:       held at ${v2:0:7} by windlass since .*2 commits waiting'"
out=$(wl release --env prod --actor bob 2>&1); rc=$?
check "release lifts the hold and prod moves to v4" bash -c "[[ $rc == 0 ]] && grep -q 'released prod at $v4' <<<'$out'"
check "prod runs v4" wait_for 30 is_at "$NS-prod" v4
check "the release is recorded with bob" bash -c \
  "$(declare -f wl); W=$W WINDLASS=$WINDLASS; wl history --env prod -o json | grep '\"trigger\":\"release\"' | grep -q '\"actor\":\"bob\"'"

# ---- rollback by hand: to an earlier record, held while new commits arrive ---------------
seq=$(wl history --env prod -o json | grep '"trigger":"promotion"' | tail -n 1 | sed 's/^{"seq":\([0-9]*\),.*/\1/')
out=$(wl rollback --env prod --to "$seq" --actor carol 2>&1); rc=$?
check "rollback to the promotion record (#$seq) returns prod to v2" bash -c "[[ $rc == 0 ]] && grep -q 'rolled back prod at $v2' <<<'$out'"
check "prod runs v2 after the rollback, and the agent does not undo it" bash -c "sleep 4; [[ \$($K -n $NS-prod get configmap settings -o jsonpath='{.data.level}') == v2 ]]"
level v5 && commit_to env/prod "v5"
sleep 5
check "new commits are not applied while held" is_at "$NS-prod" v2
check "the rollback record names carol and the hold" bash -c \
  "$(declare -f wl); W=$W WINDLASS=$WINDLASS; wl history --env prod -o json | grep '\"trigger\":\"rollback\"' | grep '\"actor\":\"carol\"' | grep -q '\"hold\":{\"revision\":\"$v2\",\"actor\":\"carol\"'"
wl release --env prod --actor carol >/dev/null 2>&1
check "after release prod runs v5" wait_for 30 is_at "$NS-prod" v5

# ---- path per environment: qa's images copied into uat's overlay ----------------------
image_of() { $K -n "$1" get deploy web -o jsonpath='{.spec.template.spec.containers[0].image}' 2>/dev/null; }
check "qa runs web:2.0 and uat web:1.0" wait_for 90 bash -c "[[ \$($K -n $NS-qa get deploy web -o jsonpath='{.spec.template.spec.containers[0].image}' 2>/dev/null) == example.com/web:2.0 && \$($K -n $NS-uat get deploy web -o jsonpath='{.spec.template.spec.containers[0].image}' 2>/dev/null) == example.com/web:1.0 ]]"
paths=$(git ls-remote origin refs/heads/paths | cut -f1)
check "qa's sync is Healthy" wait_for 60 bash -c "$(declare -f wl last_record healthy_at); W=$W WINDLASS=$WINDLASS; healthy_at qa $paths"
out=$(wl promote --from qa --to uat --actor dana 2>&1); rc=$?
check "promote qa → uat copies the images" bash -c "[[ $rc == 0 ]] && grep -q 'images copied' <<<'$out'"
git fetch -q origin
check "the commit changes only uat's newTag line" bash -c \
  "[[ \$(git diff origin/paths~1 origin/paths | grep '^[-+] ' ) == \$'-  newTag: \"1.0\"\n+  newTag: \"2.0\"' ]] && git diff --stat origin/paths~1 origin/paths | grep -q 'overlays/uat/kustomization.yaml | 2'"
check "uat runs web:2.0" wait_for 60 bash -c "[[ \$($K -n $NS-uat get deploy web -o jsonpath='{.spec.template.spec.containers[0].image}' 2>/dev/null) == example.com/web:2.0 ]]"

# ---- the auditor's export ---------------------------------------------------------------
csv=$(wl history export --env prod -o csv)
check "history export -o csv has a header and the promotion by alice" bash -c \
  "head -n 1 <<<'$csv' | grep -q '^environment,sequence,time,trigger,actor' && grep -q '^prod,[0-9]*,[^,]*,promotion,alice,Succeeded,$v2' <<<'$csv'"
check "history export --since tomorrow is empty" bash -c \
  "[[ -z \$('$WINDLASS' history export --config '$W/windlass.yaml' --env prod --since \$(date -u -d tomorrow +%F) -o json) ]]"
check "every history verifies" bash -c "$(declare -f wl); W=$W WINDLASS=$WINDLASS; [[ \$(wl history verify | grep -c 'history verified') == 6 ]]"

kill -TERM "$agent"; wait "$agent" 2>/dev/null; agent=
echo "$passed passed, $failed failed"
((failed == 0))
