#!/usr/bin/env bash
# surface_test.sh: the agent's HTTP surface, webhooks, metrics, leader election and
# notifications end to end against the real harness. Needs the harness's exports and
# the windlass binary as $1. Fails, never skips, when a piece is missing. Ends with
# "N passed, M failed".
set -uo pipefail
WINDLASS=$(realpath "${1:?usage: surface_test.sh WINDLASS}")
for v in KUBECONFIG WINDLASS_TEST_GIT_ROOT WINDLASS_TEST_GIT_HTTPS_URL WINDLASS_TEST_GIT_TOKEN \
         WINDLASS_TEST_GIT_CA WINDLASS_TEST_KUBECTL; do
  [[ -n ${!v:-} ]] || { echo "surface_test: $v is not set: start the harness and source its env file"; echo "0 passed, 1 failed"; exit 1; }
done
/usr/bin/python3 -c 'import prometheus_client' 2>/dev/null ||
  { echo "surface_test: python3-prometheus-client is missing (packaging/install-deps)"; echo "0 passed, 1 failed"; exit 1; }
K="$WINDLASS_TEST_KUBECTL --kubeconfig $KUBECONFIG"
passed=0 failed=0
ok() { echo "PASS $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1"; failed=$((failed + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
wait_for() {
  local end=$((SECONDS + $1)); shift
  while ((SECONDS < end)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}

W=$(mktemp -d "${TMPDIR:-/tmp}/windlass-surface.XXXXXX")
id=$(basename "$W" | tr 'A-Z.' 'a-z-' | tail -c 7)
NS="wl-surf-$id"
REPO="surface-$id"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  $K delete namespace "$NS" --wait=false >/dev/null 2>&1
  $K -n default delete lease "wl-$id" >/dev/null 2>&1
  rm -rf "$W" "$WINDLASS_TEST_GIT_ROOT/$REPO.git"
}
trap cleanup EXIT

git init -q --bare -b main "$WINDLASS_TEST_GIT_ROOT/$REPO.git"
git -C "$WINDLASS_TEST_GIT_ROOT/$REPO.git" config http.receivepack true
git clone -q "$WINDLASS_TEST_GIT_ROOT/$REPO.git" "$W/work" 2>/dev/null
cd "$W/work"
git config user.name "Ada Author"; git config user.email ada@example.com
mkdir -p app
printf 'resources: [config.yaml]\n' > app/kustomization.yaml
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {level: info}\n' > app/config.yaml
git add -A && git commit -qm "first" && git push -q origin HEAD:main 2>/dev/null
push() { git commit -qam "$1" && git push -q origin HEAD:main 2>/dev/null; }

printf '%s\n' "$WINDLASS_TEST_GIT_TOKEN" > "$W/token"
printf '%s\n' "${WINDLASS_TEST_GIT_USER:-git}" > "$W/user"
printf 'hook-secret-%s\n' "$id" > "$W/hook-secret"
printf 'api-token-%s\n' "$id" > "$W/api-token"
printf 'notify-key-%s\n' "$id" > "$W/notify-key"
REPO_URL="$WINDLASS_TEST_GIT_HTTPS_URL/$REPO.git"

# A notification receiver: records every POST with its signature header.
python3 - "$W/receiver.port" "$W/received" <<'PY' &
import http.server, sys, threading, time
port_file, out = sys.argv[1], sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with open(out, "a") as f:
            f.write(self.headers.get("X-Windlass-Signature", "-") + " " + body.decode() + "\n")
        self.send_response(200); self.end_headers()
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(port_file, "w").write(str(s.server_port))
threading.Timer(900, s.shutdown).start()
s.serve_forever()
PY
pids+=($!)
for _ in $(seq 50); do [[ -s $W/receiver.port ]] && break; sleep 0.1; done

write_config() {  # STATEDIR
  cat <<YAML
apiVersion: windlass.dev/v1alpha1
kind: Agent
repository:
  url: $REPO_URL
  credentials: {usernameFile: $W/user, passwordFile: $W/token, caFile: $WINDLASS_TEST_GIT_CA}
  interval: 1h
cluster: {kubeconfig: $KUBECONFIG}
stateDir: $1
server:
  address: "127.0.0.1:0"
  tokenFile: $W/api-token
  webhooks: {secretFile: $W/hook-secret}
leaderElection: {namespace: default, name: wl-$id}
notifications:
- {url: "http://127.0.0.1:$(cat "$W/receiver.port")/hook", events: [sync-failed], secretFile: $W/notify-key}
environments:
- {name: dev, branch: main, path: app, namespace: $NS, healthTimeout: 30s}
YAML
}
write_config "$W/state-a" > "$W/a.yaml"
write_config "$W/state-b" > "$W/b.yaml"
start() {  # NAME [CONFIG]: the agent with config CONFIG (default NAME), logging to NAME.log
  "$WINDLASS" run --config "$W/${2:-$1}.yaml" --log-format json 2>> "$W/$1.log" &
  eval "pid_$1=$!"
  pids+=($!)
}
port_of() { grep -o '"msg":"http server listening".*"port":"[0-9]*"' "$W/$1.log" | tail -n 1 | grep -o '[0-9]*"$' | tr -d '"'; }
level() { $K -n "$NS" get configmap settings -o jsonpath='{.data.level}' 2>/dev/null; }
is_level() { [[ $(level) == "$1" ]]; }

start a
wait_for 30 bash -c "grep -q '\"msg\":\"leading\"' '$W/a.log'"
start b
wait_for 20 bash -c "grep -q 'http server listening' '$W/b.log'"
PA=$(port_of a) PB=$(port_of b)
check "the first replica leads and syncs" wait_for 60 is_level info
sleep 3
check "the second replica follows: it never reconciles" bash -c "! grep -q '\"msg\":\"synced\"' '$W/b.log'"
check "a follower serves /healthz, /readyz and /metrics with windlass_leader 0" \
  bash -c "curl -sf http://127.0.0.1:$PB/healthz >/dev/null && curl -sf http://127.0.0.1:$PB/readyz >/dev/null &&
           curl -sf http://127.0.0.1:$PB/metrics | grep -q '^windlass_leader 0'"

# Webhooks: a valid GitHub push is applied at once although the poll interval is 1h.
sed -i 's/level: info/level: pushed/' app/config.yaml && push "pushed"
body="{\"ref\":\"refs/heads/main\",\"repository\":{\"clone_url\":\"$REPO_URL\"}}"
sig=$(printf '%s' "$body" | openssl dgst -sha256 -hmac "hook-secret-$id" | sed 's/^.* //')
bad_code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "X-Hub-Signature-256: sha256=0000" \
  -H 'X-GitHub-Event: push' --data "$body" "http://127.0.0.1:$PA/hooks/github")
sleep 2
check "a push with a bad signature gets 401 and syncs nothing" bash -c "[[ $bad_code == 401 ]] && [[ \$($K -n $NS get configmap settings -o jsonpath='{.data.level}') == info ]]"
t0=$(date +%s%N)
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "X-Hub-Signature-256: sha256=$sig" \
  -H 'X-GitHub-Event: push' --data "$body" "http://127.0.0.1:$PA/hooks/github")
wait_for 10 is_level pushed
ms=$((($(date +%s%N) - t0) / 1000000))
check "a valid GitHub push webhook ($code) gets the commit applied within 2 s ($ms ms)" bash -c "[[ $code == 202 ]] && (( $ms < 2000 ))"

# 1,000 bad signatures in a burst: all refused, and self-heal goes on.
python3 - "$PA" <<'PY'
import http.client, sys
port = int(sys.argv[1])
for i in range(1000):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        c.request("POST", "/hooks/github", body=b'{"ref":"refs/heads/main"}',
                  headers={"X-Hub-Signature-256": "sha256=%064d" % i})
        c.getresponse().read()
    except Exception:
        pass
    finally:
        c.close()
PY
$K -n "$NS" patch configmap settings -p '{"data":{"level":"hacked"}}' >/dev/null
check "after 1,000 bad-signature requests the agent still heals drift" wait_for 5 is_level pushed

# /metrics, parsed by the Prometheus client library.
curl -sf "http://127.0.0.1:$PA/metrics" > "$W/metrics.txt"
check "/metrics parses, with the sync, the drift repair, the refused webhooks and the leader" \
  /usr/bin/python3 - "$W/metrics.txt" <<'PY'
import sys
from prometheus_client.parser import text_string_to_metric_families
values = {}
for fam in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in fam.samples:
        values[(s.name, tuple(sorted(s.labels.items())))] = s.value
def get(name, **labels):
    return values.get((name, tuple(sorted(labels.items()))), 0)
assert get("windlass_sync_total", environment="dev", outcome="Succeeded") >= 1, "sync_total"
assert get("windlass_drift_corrections_total", environment="dev") >= 1, "drift corrections"
assert get("windlass_webhook_requests_total", provider="github", result="unauthorized") >= 1001, \
    "webhooks"
assert get("windlass_leader") == 1, "leader"
assert get("process_resident_memory_bytes") > 0, "rss"
PY

# The JSON API agrees with `windlass history -o json`.
curl -sf "http://127.0.0.1:$PA/api/v1/environments/dev/history?limit=100" > "$W/api-history.json"
"$WINDLASS" history --config "$W/a.yaml" --env dev -o json > "$W/cli-history.jsonl"
check "the history endpoint serves the same records as windlass history -o json, newest first" \
  python3 - "$W/api-history.json" "$W/cli-history.jsonl" <<'PY'
import json, sys
api = json.load(open(sys.argv[1]))["records"]
cli = [json.loads(l) for l in open(sys.argv[2])]
assert api == list(reversed(cli)), (len(api), len(cli))
PY
check "/api/v1/environments names dev with its last commit" \
  bash -c "curl -sf http://127.0.0.1:$PA/api/v1/environments | grep -q \"\$(git rev-parse HEAD)\""
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$PA/api/v1/environments/dev/sync")
code2=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer api-token-$id" \
  "http://127.0.0.1:$PA/api/v1/environments/dev/sync")
check "a manual sync needs the token ($code without, $code2 with) and is recorded as manual by the token's name" \
  bash -c "[[ $code == 401 && $code2 == 202 ]] && sleep 3 && '$WINDLASS' history --config '$W/a.yaml' --env dev -o json | tail -n 1 | grep -q '\"trigger\":\"manual\",\"actor\":\"token:api-token\"'"
check "no response carries a secret" \
  bash -c "! curl -s http://127.0.0.1:$PA/api/v1/environments http://127.0.0.1:$PA/metrics | grep -qE 'hook-secret|api-token|$WINDLASS_TEST_GIT_TOKEN'"

# A notification: a broken commit → a signed sync-failed.
printf 'resources: [missing.yaml]\n' > app/kustomization.yaml && push "broken"
curl -s -o /dev/null -X POST -H "X-Hub-Signature-256: sha256=$(printf '%s' "$body" | openssl dgst -sha256 -hmac "hook-secret-$id" | sed 's/^.* //')" \
  --data "$body" "http://127.0.0.1:$PA/hooks/github"
check "a broken commit sends a signed sync-failed notification" \
  wait_for 20 python3 - "$W/received" "notify-key-$id" <<'PY'
import hashlib, hmac, json, sys
key = sys.argv[2].encode()
for line in open(sys.argv[1]):
    sig, body = line.rstrip("\n").split(" ", 1)
    d = json.loads(body)
    if d.get("event") == "sync-failed" and d.get("environment") == "dev":
        want = "sha256=" + hmac.new(key, body.encode(), hashlib.sha256).hexdigest()
        assert sig == want, (sig, want)
        sys.exit(0)
sys.exit(1)
PY
git revert --no-edit HEAD >/dev/null && git push -q origin HEAD:main 2>/dev/null

# Leader election: kill -9 the leader; the follower heals drift within 25 s.
kill -9 "$pid_a"; wait "$pid_a" 2>/dev/null
$K -n "$NS" patch configmap settings -p '{"data":{"level":"while-leaderless"}}' >/dev/null
t0=$SECONDS
check "after kill -9 of the leader the follower takes over and heals drift within 25 s" wait_for 25 is_level pushed
echo "  takeover and repair: $((SECONDS - t0)) s"
start a2 a
wait_for 20 bash -c "grep -q 'http server listening' '$W/a2.log'"
sleep 2
# SIGTERM hands over at once: the Lease is released.
kill -TERM "$pid_b"; wait "$pid_b" 2>/dev/null; rc=$?
t0=$SECONDS
wait_for 8 grep -q '"msg":"leading"' "$W/a2.log"; took=$((SECONDS - t0))
check "SIGTERM of the leader exits 0 ($rc) and hands over at once (${took} s; the lease is 15 s)" \
  bash -c "[[ $rc -eq 0 ]] && grep -q '\"msg\":\"leading\"' '$W/a2.log' && (( $took < 5 ))"
kill -TERM "$pid_a2"; wait "$pid_a2" 2>/dev/null

echo "$passed passed, $failed failed"
((failed == 0))
