#!/usr/bin/env bash
# image_test.sh WINDLASS: packaging/build-image against real tools. Builds the image twice and
# compares the digests (reproducible), reads it with `skopeo inspect oci:`, runs its binary from
# the unpacked layer as uid 65532 (chroot, or an unprivileged user namespace when not root),
# pushes it to the harness registry with `skopeo copy` and checks the manifest the registry
# serves. Needs the harness's exports (WINDLASS_TEST_REGISTRY). Ends with "N passed, M failed".
set -uo pipefail
WINDLASS=$(realpath "${1:?usage: image_test.sh WINDLASS}")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
[[ -n ${WINDLASS_TEST_REGISTRY:-} ]] || {
  echo "image_test: WINDLASS_TEST_REGISTRY is not set: start the harness (tests/harness/up) and source its env file"
  echo "0 passed, 1 failed"; exit 1; }
for tool in skopeo python3 curl tar; do
  command -v "$tool" >/dev/null || { echo "image_test: $tool missing (packaging/install-deps)"; echo "0 passed, 1 failed"; exit 1; }
done
passed=0 failed=0
ok() { echo "PASS $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1"; failed=$((failed + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }

W=$(mktemp -d "${TMPDIR:-/tmp}/windlass-image.XXXXXX")
trap 'rm -rf "$W"' EXIT
VERSION=$(sed -n "s/^  version: '\([^']*\)',$/\1/p" "$ROOT/meson.build" | head -n 1)
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# 1. Built twice from the same binary: the same bytes, hence the same digest.
t0=$SECONDS
WINDLASS_BIN=$WINDLASS "$ROOT/packaging/build-image" "$W/a" >"$W/build-a.log" 2>&1; rc_a=$?
WINDLASS_BIN=$WINDLASS "$ROOT/packaging/build-image" "$W/b" >"$W/build-b.log" 2>&1; rc_b=$?
cat "$W/build-a.log"
echo "  two builds: $((SECONDS - t0)) s"
check "build-image writes an OCI layout (twice)" \
  bash -c "[[ $rc_a == 0 && $rc_b == 0 && -f '$W/a/oci-layout' && -f '$W/a/index.json' ]]"
digest=$(json 'd["manifests"][0]["digest"]' <"$W/a/index.json" 2>/dev/null)
check "the image is reproducible: two builds give the same digest ($digest)" \
  bash -c "[[ -n '$digest' ]] && cmp -s '$W/a/index.json' '$W/b/index.json' && diff -r '$W/a' '$W/b' >/dev/null"

# 2. skopeo reads the layout; the config is what the brief asks for.
skopeo inspect "oci:$W/a:$VERSION" >"$W/inspect.json" 2>"$W/inspect.err"; rc=$?
check "skopeo inspect reads oci:OUTDIR:$VERSION" \
  bash -c "[[ $rc == 0 ]] && grep -q '\"Digest\": \"$digest\"' '$W/inspect.json'"
skopeo inspect --config "oci:$W/a:$VERSION" >"$W/config.json" 2>>"$W/inspect.err"
cfg() { json "$1" <"$W/config.json" 2>/dev/null; }
check "runs as uid 65532, not root" test "$(cfg 'd["config"]["User"]')" = "65532:65532"
check "entrypoint: windlass run --config /etc/windlass/windlass.yaml" \
  test "$(cfg '" ".join(d["config"]["Entrypoint"] + d["config"]["Cmd"])')" = \
  "/usr/bin/windlass run --config /etc/windlass/windlass.yaml"
check "the state folder /var/lib/windlass is a volume" \
  test "$(cfg 'list(d["config"]["Volumes"])')" = "['/var/lib/windlass']"

# 3. The layer: runs as 65532 with nothing from the host (chroot), writes nothing outside the
# volume and /tmp (both writable by 65532, the rest owned by root), and carries copyrights.
layer=$(python3 -c "import json; m=json.load(open('$W/a/blobs/sha256/${digest#sha256:}')); print(m['layers'][0]['digest'][7:])")
mkdir "$W/rootfs"
if [[ $(id -u) == 0 ]]; then
  tar -xzf "$W/a/blobs/sha256/$layer" -C "$W/rootfs" --same-owner
  run_in() { chroot --userspec=65532:65532 "$W/rootfs" "$@"; }
else
  tar -xzf "$W/a/blobs/sha256/$layer" -C "$W/rootfs" --no-same-owner
  run_in() { unshare --map-root-user chroot "$W/rootfs" "$@"; }
fi
out=$(run_in /usr/bin/windlass version 2>&1)
check "the image's binary runs inside it as 65532 with only the image's libraries ($out)" \
  test "$out" = "windlass $VERSION"
mkdir -p "$W/rootfs/tmp/app"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {tz: ok}\n' >"$W/rootfs/tmp/app/c.yaml"
printf 'resources: [c.yaml]\nnamespace: demo\n' >"$W/rootfs/tmp/app/kustomization.yaml"
out=$(run_in /usr/bin/windlass render /tmp/app 2>&1)
check "the image's binary renders a kustomization" grep -q 'namespace: demo' <<<"$out"
owners=$(tar -tvzf "$W/a/blobs/sha256/$layer" | awk '$2 != "0/0" {print $2, $6}')
check "only /var/lib/windlass belongs to 65532; everything else to root ($owners)" \
  test "$owners" = "65532/65532 var/lib/windlass/"
check "every Debian package taken from has its copyright file" \
  bash -c "ls '$W/rootfs/usr/share/doc' | wc -l | grep -qx '[1-9][0-9]*' &&
           for d in '$W/rootfs'/usr/share/doc/*; do [[ -s \$d/copyright ]] || exit 1; done &&
           [[ -s '$W/rootfs/usr/share/doc/libgit2-1.5/copyright' && -s '$W/rootfs/usr/share/doc/libc6/copyright' ]]"

# 4. Pushed to the harness registry: the registry serves the same manifest.
ref=$WINDLASS_TEST_REGISTRY/windlass:$VERSION
skopeo copy --quiet --dest-tls-verify=false "oci:$W/a:$VERSION" "docker://$ref" >"$W/copy.log" 2>&1; rc=$?
cat "$W/copy.log"
check "skopeo copy pushes the image to the harness registry" test "$rc" = 0
served=$(curl -fsS -D "$W/headers" -o "$W/served.json" \
  -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
  "http://$WINDLASS_TEST_REGISTRY/v2/windlass/manifests/$VERSION" &&
  tr -d '\r' <"$W/headers" | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p')
check "the registry serves the manifest with the same digest ($served)" test "$served" = "$digest"
check "the served manifest is the local one, byte for byte" \
  cmp -s "$W/served.json" "$W/a/blobs/sha256/${digest#sha256:}"
remote=$(skopeo inspect --tls-verify=false "docker://$ref" 2>/dev/null | json 'd["Digest"]')
check "skopeo inspect docker://$ref agrees" test "$remote" = "$digest"

echo "$passed passed, $failed failed"
((failed == 0))
