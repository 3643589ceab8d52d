#!/usr/bin/env bash
# signature_test.sh: signed commits only (verify: on the repository), end to end against the real
# harness: a commit signed by a key of allowed_signers is applied; an unsigned commit and one
# signed by an unknown key are refused, the cluster stays at the last verified commit and the
# history says why; an OpenPGP-signed commit is checked against a keyring for another
# environment. Needs the harness's exports and the windlass binary as $1. Fails, never skips.
# Ends with "N passed, M failed".
set -uo pipefail
WINDLASS=$(realpath "${1:?usage: signature_test.sh WINDLASS}")
for v in KUBECONFIG WINDLASS_TEST_GIT_ROOT WINDLASS_TEST_GIT_HTTPS_URL WINDLASS_TEST_GIT_TOKEN \
         WINDLASS_TEST_GIT_CA WINDLASS_TEST_KUBECTL; do
  [[ -n ${!v:-} ]] || { echo "signature_test: $v is not set: start the harness and source its env file"; echo "0 passed, 1 failed"; exit 1; }
done
for tool in ssh-keygen gpg gpgconf; do
  command -v "$tool" >/dev/null || { echo "signature_test: $tool is missing (packaging/install-deps)"; echo "0 passed, 1 failed"; exit 1; }
done
K="$WINDLASS_TEST_KUBECTL --kubeconfig $KUBECONFIG"
passed=0 failed=0
ok() { echo "PASS $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1"; failed=$((failed + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }

W=$(mktemp -d "${TMPDIR:-/tmp}/windlass-sig.XXXXXX")
id=$(basename "$W" | tr 'A-Z.' 'a-z-' | tail -c 7)
NS="wl-sig-$id"
REPO="sig-$id"
export GNUPGHOME="$W/gnupg"  # the signer's keys; the agent never uses it
cleanup() {
  gpgconf --kill all 2>/dev/null
  $K delete namespace "$NS" "$NS-pgp" --wait=false >/dev/null 2>&1
  rm -rf "$W" "$WINDLASS_TEST_GIT_ROOT/$REPO.git"
}
trap cleanup EXIT

ssh-keygen -q -t ed25519 -N '' -C alice -f "$W/alice"
ssh-keygen -q -t ed25519 -N '' -C mallory -f "$W/mallory"
echo "alice@example.com $(cat "$W/alice.pub")" > "$W/allowed_signers"
mkdir -m 700 "$GNUPGHOME"
gpg --batch --quiet --passphrase '' --quick-gen-key 'Bob <bob@example.com>' ed25519 sign never 2>/dev/null
BOB=$(gpg --batch --with-colons --list-keys bob@example.com 2>/dev/null | awk -F: '/^fpr/ {print $10; exit}')
gpg --batch --armor --export bob@example.com > "$W/keyring.asc"

git init -q --bare -b main "$WINDLASS_TEST_GIT_ROOT/$REPO.git"
git clone -q "$WINDLASS_TEST_GIT_ROOT/$REPO.git" "$W/work" 2>/dev/null
cd "$W/work"
git config user.name "Ada Author"; git config user.email ada@example.com
mkdir -p app
printf 'resources: [config.yaml]\n' > app/kustomization.yaml
commit() {  # LEVEL [git -c options for signing...]
  local level=$1; shift
  printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {level: %s}\n' "$level" > app/config.yaml
  git add -A && git "$@" commit -qm "level $level" && git push -q origin HEAD:main 2>/dev/null
}
SSH_ALICE=(-c gpg.format=ssh -c user.signingkey="$W/alice" -c commit.gpgsign=true)
SSH_MALLORY=(-c gpg.format=ssh -c user.signingkey="$W/mallory" -c commit.gpgsign=true)
PGP_BOB=(-c gpg.format=openpgp -c user.signingkey="$BOB" -c commit.gpgsign=true)

printf '%s\n' "$WINDLASS_TEST_GIT_TOKEN" > "$W/token"
printf '%s\n' "${WINDLASS_TEST_GIT_USER:-git}" > "$W/user"
cat > "$W/windlass.yaml" <<YAML
apiVersion: windlass.dev/v1alpha1
kind: Agent
repository:
  url: $WINDLASS_TEST_GIT_HTTPS_URL/$REPO.git
  credentials: {usernameFile: $W/user, passwordFile: $W/token, caFile: $WINDLASS_TEST_GIT_CA}
  verify: {ssh: {allowedSignersFile: $W/allowed_signers}}
cluster: {kubeconfig: $KUBECONFIG}
stateDir: $W/state
environments:
- {name: dev, branch: main, path: app, namespace: $NS, healthTimeout: 30s}
- name: pgp
  branch: main
  path: app
  namespace: $NS-pgp
  healthTimeout: 30s
  verify: {openpgp: {keyringFile: $W/keyring.asc}}
YAML
sync() { "$WINDLASS" sync --config "$W/windlass.yaml" --env "$1" > "$W/sync.out" 2>&1; }
level() { $K -n "$1" get configmap settings -o jsonpath='{.data.level}' 2>/dev/null; }
last() { "$WINDLASS" history --config "$W/windlass.yaml" --env "$1" -o json | tail -n 1; }
field() { python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"; }

commit v1 "${SSH_ALICE[@]}"
sync dev; rc=$?
rec=$(last dev)
check "a commit signed by a trusted SSH key is applied (rc $rc), recorded Valid with its signer" \
  bash -c "[[ $rc == 0 && $(level $NS) == v1 &&
             '$(field "$rec" 'r["revision"]["signature"]')' == Valid &&
             '$(field "$rec" 'r["revision"]["signer"]')' == alice@example.com ]]"

commit v2
sync dev; rc=$?
rec=$(last dev)
check "an unsigned commit is refused (rc $rc): the cluster stays at v1, the record says why" \
  bash -c "[[ $rc != 0 && $(level $NS) == v1 &&
             '$(field "$rec" 'r["reason"]')' == SourceFailed &&
             '$(field "$rec" 'r["revision"]["signature"]')' == Unsigned ]] &&
           grep -q 'is not applied: not signed' <<< '$(field "$rec" 'r["message"]')'"

commit v3 "${SSH_MALLORY[@]}"
sync dev; rc=$?
rec=$(last dev)
FP=$(ssh-keygen -l -E sha256 -f "$W/mallory.pub" | awk '{print $2}')
check "a commit signed by an unknown key is refused (rc $rc), naming the key" \
  bash -c "[[ $rc != 0 && $(level $NS) == v1 &&
             '$(field "$rec" 'r["revision"]["signature"]')' == Invalid ]] &&
           grep -qF 'is not applied: signed by an unknown key $FP' <<< '$(field "$rec" 'r["message"]')'"

commit v4 "${SSH_ALICE[@]}"
sync dev; rc=$?
check "the next trusted commit is applied again (rc $rc)" bash -c "[[ $rc == 0 && $(level $NS) == v4 ]]"

# The pgp environment checks OpenPGP signatures against its own keyring.
sync pgp; rc=$?
check "an SSH-signed commit is refused where only a keyring is configured (rc $rc)" \
  bash -c "[[ $rc != 0 ]] && ! $K -n $NS-pgp get configmap settings >/dev/null 2>&1"
commit v5 "${PGP_BOB[@]}"
sync pgp; rc=$?
rec=$(last pgp)
check "an OpenPGP-signed commit by a keyring key is applied (rc $rc), the signer recorded" \
  bash -c "[[ $rc == 0 && $(level $NS-pgp) == v5 &&
             '$(field "$rec" 'r["revision"]["signer"]')' == 'Bob <bob@example.com>' ]]"
check "the history chains verify" "$WINDLASS" history verify --config "$W/windlass.yaml"

echo "$passed passed, $failed failed"
((failed == 0))
