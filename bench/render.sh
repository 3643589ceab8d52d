#!/usr/bin/env bash
# Render benchmark: `windlass render DIR` against `kubectl kustomize DIR`.
#
# usage: bench/render.sh [options] [N...]
#
# For each N (default: 250 1000 4000 16000) bench/gen_tree.py generates a tree of N objects
# (cached under $CACHE/gen-N); its base/ and overlay/ are each rendered by both tools under
# hyperfine, and peak RSS is taken from GNU time.  Then the largest real-world trees of
# /work/shared/realworld are measured the same way.  Every windlass output is checked for the
# expected number of documents before it is timed (a renderer that prints nothing fails).
#
# options:
#   --windlass PATH        renderer binary (default: $WINDLASS, else <repo>/build/agent/windlass)
#   --kustomize-max N      do not run kustomize on generated trees with more than N objects
#                          (e.g. --kustomize-max 4000 skips kustomize at 16000, which takes tens
#                          of minutes); those rows report windlass only
#   --skip-kustomize-16000 the same as --kustomize-max 4000
#   --kustomize-only       time only kustomize (to test this script before windlass works)
#   --no-realworld         skip the real-world trees
#   --no-generated         skip the generated trees (real-world trees only)
#   --verify               also compare windlass's output with kustomize's using the shared
#                          conformance comparator (slow on large trees: pure-Python YAML)
#   --out FILE             Markdown result file (default: bench/results/render.md, or
#                          bench/results/render-kustomize.md with --kustomize-only)
#   --cache DIR            where generated trees are kept (default: ${TMPDIR:-/tmp}/windlass-bench)
#   -h, --help             this text
#
# Benchmark a release build: meson setup build-release --buildtype=release &&
# ninja -C build-release && bench/render.sh --windlass build-release/agent/windlass
#
# Kustomize run counts: trees with >= 4000 objects get one run, no warm-up (hyperfine --runs 1
# --warmup 0, with GNU time wrapped around the command so RSS costs no extra run); smaller ones
# get 3 runs (5 below 500 objects, and on the real-world trees) after a separate GNU time run
# that doubles as the warm-up. Windlass: one GNU time run (RSS and output check), then
# hyperfine --warmup 1 --min-runs 10.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
shared="$here/../../shared"
realworld_cases="$shared/realworld/cases"
compare_py="$shared/conformance/compare.py"
realworld_trees=(
  kubeflow+manifests-vendored__example
  argoproj+argo-workflows__manifests__quick-start__minimal
  prometheus-operator+kube-prometheus___root_
)

windlass="${WINDLASS:-$repo/build/agent/windlass}"
kustomize_max=""
kustomize_only=0
realworld=1
generated=1
verify=0
out=""
cache="${TMPDIR:-/tmp}/windlass-bench"
sizes=()

die() { echo "render.sh: $*" >&2; exit 2; }
note() { echo "render.sh: $*" >&2; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --windlass) windlass="${2:?--windlass needs a path}"; shift 2 ;;
    --kustomize-max) kustomize_max="${2:?--kustomize-max needs a number}"; shift 2 ;;
    --skip-kustomize-16000) kustomize_max=4000; shift ;;
    --kustomize-only) kustomize_only=1; shift ;;
    --no-realworld) realworld=0; shift ;;
    --no-generated) generated=0; shift ;;
    --verify) verify=1; shift ;;
    --out) out="${2:?--out needs a file}"; shift 2 ;;
    --cache) cache="${2:?--cache needs a directory}"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) [[ "$1" =~ ^[1-9][0-9]*$ ]] || die "not an object count: $1"; sizes+=("$1"); shift ;;
  esac
done
[[ ${#sizes[@]} -gt 0 ]] || sizes=(250 1000 4000 16000)
[[ $generated -eq 1 ]] || sizes=()
[[ -z "$kustomize_max" || "$kustomize_max" =~ ^[0-9]+$ ]] || die "--kustomize-max needs a number"
if [[ -z "$out" ]]; then
  if [[ $kustomize_only -eq 1 ]]; then out="$here/results/render-kustomize.md"
  else out="$here/results/render.md"; fi
fi

# ------------------------------------------------------------------------------ prerequisites
install_packages() {  # install Debian packages: the project's script if any, else apt-get
  local script
  for script in "$repo"/packaging/install-deps*.sh "$repo"/packaging/install_deps*.sh; do
    if [[ -x "$script" ]]; then
      note "installing $* with $script"
      "$script" "$@" && return 0
    fi
  done
  local sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  note "installing $* with apt-get"
  $sudo apt-get install -y "$@" >&2 || { $sudo apt-get update >&2 && $sudo apt-get install -y "$@" >&2; }
}
command -v hyperfine >/dev/null || install_packages hyperfine
command -v hyperfine >/dev/null || die "hyperfine is required (apt-get install hyperfine)"
[[ -x /usr/bin/time ]] || install_packages time
[[ -x /usr/bin/time ]] || die "GNU time (/usr/bin/time) is required (apt-get install time)"
command -v python3 >/dev/null || die "python3 is required"
command -v kubectl >/dev/null || die "kubectl is required (the reference: kubectl kustomize)"

if [[ $kustomize_only -eq 0 ]]; then
  [[ -e "$windlass" ]] || die "windlass binary not found at $windlass (build it: meson setup build && ninja -C build; or pass --windlass PATH, or --kustomize-only)"
  [[ -x "$windlass" ]] || die "windlass binary is not executable: $windlass"
  windlass="$(realpath "$windlass")"
fi
if [[ $realworld -eq 1 ]]; then
  [[ -d "$realworld_cases" ]] || die "real-world trees missing: $realworld_cases (or pass --no-realworld)"
fi
if [[ $verify -eq 1 ]]; then
  [[ -f "$compare_py" ]] || die "comparator missing: $compare_py"
fi

mkdir -p "$cache" "$(dirname "$out")"
work="$(mktemp -d "${TMPDIR:-/tmp}/windlass-bench-run.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# ------------------------------------------------------------------------------ helpers
count_docs() { grep -c '^kind:' "$1" || true; }   # top-level `kind:` of each rendered object

# json_stat FILE FIELD: mean or stddev (seconds) of the only command in a hyperfine JSON export
json_stat() {
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; v=r.get(sys.argv[2]); print("" if v is None else v)' "$1" "$2"
}

# ensure_tree N: generate gen-N once per generator version
ensure_tree() {
  local n="$1" dir="$cache/gen-$1" stamp
  stamp="$(sha256sum "$here/gen_tree.py" | cut -c1-16) $n"
  if [[ ! -f "$dir/.stamp" || "$(cat "$dir/.stamp")" != "$stamp" ]]; then
    note "generating $n objects in $dir"
    python3 "$here/gen_tree.py" "$n" "$dir"
    echo "$stamp" > "$dir/.stamp"
  fi
}

rows=()   # one "|...|" Markdown row per tree
notes=()

fmt_time() {  # mean [stddev] -> "1.234 ± 0.010"
  if [[ -z "$1" ]]; then echo "n/a"; return; fi
  if [[ -n "${2:-}" ]]; then printf '%.4f ± %.4f' "$1" "$2"; else printf '%.4f' "$1"; fi
}
fmt_mib() { if [[ -z "$1" ]]; then echo "n/a"; else awk -v k="$1" 'BEGIN{printf "%.1f", k/1024}'; fi; }
per_object() { if [[ -z "$1" ]]; then echo "n/a"; else awk -v s="$1" -v n="$2" 'BEGIN{printf "%.1f", s*1e6/n}'; fi; }
ratio() {
  if [[ -z "$1" || -z "$2" ]]; then echo "n/a"; return; fi
  awk -v k="$1" -v w="$2" 'BEGIN{ if (w > 0) printf "%.1f×", k/w; else print "n/a" }'
}

# bench_tree LABEL DIR OBJECTS RUN_KUSTOMIZE EXPECTED_FILE [EXTRA_ARGS...]
#   EXPECTED_FILE: kustomize's known output for --verify ("" = produce it)
bench_tree() {
  local label="$1" dir="$2" objects="$3" run_k="$4" expected="$5"; shift 5
  local extra=("$@") tag w_mean="" w_sd="" w_rss="" k_mean="" k_sd="" k_rss=""
  tag="$(echo "$label" | tr -c 'A-Za-z0-9._-' '_')"
  note "== $label ($objects objects): $dir"

  if [[ $kustomize_only -eq 0 ]]; then
    local w_out="$work/$tag.windlass.yaml" got
    if ! /usr/bin/time -f '%M' -o "$work/$tag.w.rss" \
        "$windlass" render "${extra[@]}" "$dir" > "$w_out" 2> "$work/$tag.w.err"; then
      cat "$work/$tag.w.err" >&2
      die "windlass render failed on $label ($dir)"
    fi
    got="$(count_docs "$w_out")"
    if [[ "$got" -ne "$objects" ]]; then
      head -c 2000 "$work/$tag.w.err" >&2 || true
      die "windlass rendered $got documents for $label, expected $objects: is the renderer complete? ($windlass)"
    fi
    w_rss="$(tail -n 1 "$work/$tag.w.rss")"
    hyperfine -N --style basic --warmup 1 --min-runs 10 --command-name "windlass $label" \
      --export-json "$work/$tag.w.json" "$windlass render ${extra[*]} $dir" >&2
    w_mean="$(json_stat "$work/$tag.w.json" mean)"
    w_sd="$(json_stat "$work/$tag.w.json" stddev)"
  fi

  if [[ "$run_k" -eq 1 ]]; then
    local k_out="$work/$tag.kustomize.yaml"
    if [[ "$objects" -ge 4000 ]]; then
      hyperfine -N --style basic --runs 1 --warmup 0 --command-name "kustomize $label" \
        --export-json "$work/$tag.k.json" \
        "/usr/bin/time -f %M -o $work/$tag.k.rss kubectl kustomize ${extra[*]} $dir" >&2
    else
      local runs=3
      [[ "$objects" -ge 500 && "$label" == gen-* ]] || runs=5
      /usr/bin/time -f '%M' -o "$work/$tag.k.rss" \
        kubectl kustomize "${extra[@]}" "$dir" > "$k_out" || die "kubectl kustomize failed on $dir"
      [[ "$(count_docs "$k_out")" -eq "$objects" ]] \
        || die "kubectl kustomize rendered $(count_docs "$k_out") documents for $label, expected $objects"
      [[ -n "$expected" ]] || expected="$k_out"
      hyperfine -N --style basic --runs "$runs" --warmup 0 --command-name "kustomize $label" \
        --export-json "$work/$tag.k.json" "kubectl kustomize ${extra[*]} $dir" >&2
    fi
    k_rss="$(tail -n 1 "$work/$tag.k.rss")"
    k_mean="$(json_stat "$work/$tag.k.json" mean)"
    k_sd="$(json_stat "$work/$tag.k.json" stddev)"
  fi

  if [[ $verify -eq 1 && $kustomize_only -eq 0 ]]; then
    if [[ -z "$expected" ]]; then
      note "verify: producing kustomize output for $label"
      expected="$work/$tag.kustomize.yaml"
      kubectl kustomize "${extra[@]}" "$dir" > "$expected" || die "kubectl kustomize failed on $dir"
    fi
    local vcase="$work/verify-$tag"
    mkdir -p "$vcase"
    ln -s "$dir" "$vcase/input"
    echo . > "$vcase/entry"
    cp "$expected" "$vcase/expected.yaml"
    note "verify: comparing windlass with kustomize on $label"
    python3 "$compare_py" "$vcase" --timeout 3600 -- "$windlass" render "${extra[@]}" '{dir}' >&2 \
      || die "windlass output differs from kustomize on $label"
  fi

  local row
  row="| $label | $objects | $(fmt_time "$w_mean" "$w_sd") | $(fmt_time "$k_mean" "$k_sd") | $(ratio "$k_mean" "$w_mean") | $(fmt_mib "$w_rss") | $(fmt_mib "$k_rss") | $(per_object "$w_mean" "$objects") | $(per_object "$k_mean" "$objects") |"
  rows+=("$row")
  echo "$row" >&2
}

# ------------------------------------------------------------------------------ run
for n in "${sizes[@]}"; do
  if [[ "$n" -gt 4000 && ( -z "$kustomize_max" || "$n" -le "$kustomize_max" ) ]]; then
    note "warning: kustomize grows worse than quadratically (about 2 min at 4000 objects on 2 cores);"
    note "         at $n objects it may take hours. Use --skip-kustomize-16000 / --kustomize-max 4000 to skip it."
  fi
done
started="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
for n in "${sizes[@]}"; do
  ensure_tree "$n"
  run_k=1
  if [[ -n "$kustomize_max" && "$n" -gt "$kustomize_max" ]]; then
    run_k=0
    notes+=("Kustomize was skipped for generated trees above $kustomize_max objects (--kustomize-max): those rows show windlass only.")
  fi
  if [[ $kustomize_only -eq 1 && $run_k -eq 0 ]]; then
    note "skipping gen-$n: --kustomize-only and kustomize skipped"
    continue
  fi
  bench_tree "gen-$n/base" "$cache/gen-$n/base" "$n" "$run_k" ""
  bench_tree "gen-$n/overlay" "$cache/gen-$n/overlay" "$n" "$run_k" ""
done

if [[ $realworld -eq 1 ]]; then
  for c in "${realworld_trees[@]}"; do
    cdir="$realworld_cases/$c"
    [[ -f "$cdir/entry" ]] || die "real-world case missing: $cdir"
    entry="$(tr -d '\r\n' < "$cdir/entry")"
    # `input` is a symlink to the repository's src/ folder, or (in copies that lost the link)
    # a text file holding that relative path
    if [[ -d "$cdir/input" ]]; then input="$cdir/input"
    elif [[ -f "$cdir/input" ]]; then input="$cdir/$(tr -d '\r\n' < "$cdir/input")"
    else die "real-world case has no input: $cdir"; fi
    dir="$(realpath -e "$input/${entry:-.}")" || die "entry $entry not found under $input"
    objects="$(count_docs "$cdir/expected.yaml")"
    args=()
    if [[ -f "$cdir/args" ]]; then read -r -a args < "$cdir/args"; fi
    bench_tree "$c" "$dir" "$objects" 1 "$cdir/expected.yaml" "${args[@]}"
  done
fi

# ------------------------------------------------------------------------------ report
wl_version="n/a"
if [[ $kustomize_only -eq 0 ]]; then
  wl_version="$("$windlass" --version 2>/dev/null | head -n 1 || true)"
  [[ -n "$wl_version" ]] || wl_version="$windlass"
  # the meson build type, when the binary sits in a meson build folder (benchmark a release build)
  bopts="$(dirname "$windlass")/../meson-info/intro-buildoptions.json"
  if [[ -f "$bopts" ]]; then
    wl_version+=" ($(python3 -c 'import json,sys; print(", ".join(o["name"] + "=" + str(o["value"]) for o in json.load(open(sys.argv[1])) if o["name"] in ("buildtype", "b_ndebug", "b_lto")))' "$bopts"))"
  fi
fi
k_version="$(kubectl version --client 2>/dev/null | tr '\n' ' ' | sed 's/ *$//')"
cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"

report="$work/report.md"
{
  echo "# windlass render vs kubectl kustomize"
  echo
  echo "- date: $started; machine: $(nproc) CPUs ($cpu), $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM, load average at start $load_before"
  echo "- windlass: $wl_version; kustomize: $k_version; $(hyperfine --version)"
  echo "- generated trees: bench/gen_tree.py N (one file per app, ~6 kinds in equal numbers); overlay = namespace, namePrefix, labels, images, label-selected patch, JSON 6902 patch"
  echo "- times are hyperfine means (± standard deviation) of wall-clock seconds, output to /dev/null; RSS is GNU time's maximum resident set size"
  if [[ $kustomize_only -eq 1 ]]; then echo "- **kustomize only**: windlass was not run (--kustomize-only)"; fi
  if [[ $verify -eq 1 && $kustomize_only -eq 0 ]]; then echo "- every windlass output was checked equal to kustomize's with shared/conformance/compare.py"; fi
  printf '%s\n' "${notes[@]}" | sort -u | sed '/^$/d; s/^/- /'
  echo
  echo "| tree | objects | windlass mean (s) | kustomize mean (s) | kustomize/windlass | windlass peak RSS (MiB) | kustomize peak RSS (MiB) | windlass µs/object | kustomize µs/object |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  printf '%s\n' "${rows[@]}"
} > "$report"
cp "$report" "$out"
cat "$report"
note "written to $out"
