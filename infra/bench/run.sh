#!/usr/bin/env bash
# MediChain's performance benchmark: builds what it measures, then prints one table (cold init
# against a hello-world baseline, warm invokes, memory, binary sizes, AWS calls over an
# appointment's life, the cost model, SMS segments, local server load). See docs/performance.md.
#
#   infra/bench/run.sh                 full run: x86_64 release builds for timing, arm64 release
#                                      builds (cargo lambda) for sizes; ~20-40 min on 2 cores
#   infra/bench/run.sh --skip-arm64    the same without the arm64 build (no size verdicts)
#   infra/bench/run.sh --quick         CI's check that the benchmark still works: debug builds of
#                                      two functions, a few runs each; judges nothing (< 3 min
#                                      after infra/test.sh's build)
#
# Only 127.0.0.1 is used: a fake Lambda Runtime API, moto_server, the local server. Every loop
# is bounded by a count and a time. The table is also written to target/bench/latest.md
# (quick.md in quick mode).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

mode=full
for arg in "$@"; do
  case "$arg" in
    --quick) mode=quick ;;
    --skip-arm64) mode=no-arm64 ;;
    -h|--help) sed -n 2,16p "$0"; exit 0 ;;
    *) echo "unknown argument: $arg (try --help)" >&2; exit 2 ;;
  esac
done

command -v moto_server >/dev/null 2>&1 || python3 -m pip install --quiet 'moto[server]'
command -v moto_server >/dev/null 2>&1 || { echo "moto_server is missing and could not be installed" >&2; exit 1; }
target="${CARGO_TARGET_DIR:-$PWD/target}"
mkdir -p "$target/bench"

functions=()
for dir in functions/*/; do
  [ -f "$dir/Cargo.toml" ] && functions+=("$(basename "$dir")")
done

if [ "$mode" = quick ]; then
  # Two functions (a read and a write) and the baseline, in the debug build `cargo test` makes
  # (the workspace's binaries and tests, one feature resolution: infra/test.sh has built it
  # already, so nothing compiles twice): this checks that every part of the benchmark still runs.
  only=list-slots,book-appointment
  cargo build --locked --workspace --bins --tests
  exec "$target/debug/medichain-bench" --quick --bin-dir "$target/debug" --only "$only" \
    --out "$target/bench/quick.md"
fi

# Each function is built on its own, as `sam build` does (cargo lambda build per function
# directory), so a function gets only the features it asks for; a workspace-wide build would
# unify them. The release profile is the workspace's (Cargo.toml).
started=$(date +%s)
packages=(-p bench-hello -p medichain-bench -p medichain-local)
echo "==> x86_64 release builds (for timing on this machine)"
cargo build --release --locked "${packages[@]}"
# The local server is no Lambda function: it is measured as built for speed (Cargo.toml,
# [profile.server]), the functions as built for size.
cargo build --profile server --locked -p medichain-local
for f in "${functions[@]}"; do
  cargo build --release --locked -p "$f"
done
echo "    built in $(( $(date +%s) - started ))s"

arm64_args=()
if [ "$mode" = full ]; then
  echo "==> arm64 release builds with cargo lambda (for sizes)"
  rustup target list --installed | grep -qx aarch64-unknown-linux-gnu \
    || rustup target add aarch64-unknown-linux-gnu \
    || { echo "cannot install the aarch64-unknown-linux-gnu target" >&2; exit 1; }
  export PATH="$PWD/.tools/venv/bin:$PATH"
  if ! command -v cargo-lambda >/dev/null 2>&1; then
    python3 -m venv .tools/venv
    .tools/venv/bin/pip install --quiet cargo-lambda
  fi
  command -v cargo-lambda >/dev/null 2>&1 || { echo "cargo-lambda is missing and could not be installed" >&2; exit 1; }
  arm_started=$(date +%s)
  cargo lambda build --release --arm64 --locked -p bench-hello
  for f in "${functions[@]}"; do
    cargo lambda build --release --arm64 --locked -p "$f"
  done
  echo "    built in $(( $(date +%s) - arm_started ))s"
  arm64_args=(--arm64-dir "$target/lambda")
fi

echo "==> measuring"
"$target/release/medichain-bench" --bin-dir "$target/release" "${arm64_args[@]}" \
  --server-bin "$target/server/medichain-local" --out "$target/bench/latest.md"
