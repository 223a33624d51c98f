#!/usr/bin/env bash
# The deploy checks that run without AWS: template.yaml passes cfn-lint and `sam validate --lint`
# (and SAM's own translation), and every function under functions/ builds for arm64 in release
# with cargo-lambda, as `sam build` builds it. A step of infra/test.sh; docs/operations.md.
#
# Installs what it needs when missing, and fails loudly when it cannot: aws-sam-cli and
# cargo-lambda (which brings zig, its cross linker) from PyPI into .tools/venv (gitignored), and the
# aarch64-unknown-linux-gnu Rust target.
#
#   infra/check-deploy.sh                 lint, then build every function (CI profile, below)
#   SHIP_PROFILE=1 infra/check-deploy.sh  build with the release profile exactly as sam build ships it
#   QUICK=1 infra/check-deploy.sh         lint only (local iteration)
#
# The CI build overrides the release profile with LTO off and 16 codegen units: it proves every
# function compiles and links for arm64 in about a third of the CPU time of the shipping profile
# (opt-level "z", fat LTO, 1 codegen unit: ~45 s of single-threaded linking per function). The
# shipped binaries' size is the performance issue's to measure (docs/operations.md has figures).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

fail() { echo "check-deploy: $*" >&2; exit 1; }

venv=.tools/venv
if [ ! -x "$venv/bin/sam" ] || [ ! -x "$venv/bin/cargo-lambda" ]; then
  python3 -m venv "$venv" || fail "python3 -m venv failed (install python3-venv)"
  "$venv/bin/pip" install --quiet --disable-pip-version-check aws-sam-cli cargo-lambda \
    || fail "could not install aws-sam-cli and cargo-lambda from PyPI"
fi
export PATH="$PWD/$venv/bin:$PATH"

# Offline: SAM and cfn-lint want a region and credentials to exist, never to be valid. The real
# ones (if any) are kept out of the way so nothing here can touch an account.
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing
export AWS_REGION=eu-west-1 AWS_DEFAULT_REGION=eu-west-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
export SAM_CLI_TELEMETRY=0

echo "cfn-lint $(cfn-lint --version | awk '{print $2}') template.yaml"
cfn-lint template.yaml
# A cfn-lint outside the venv (another version) has disagreed with SAM's before
# (shared/TOOLCHAIN.md): when there is one, it must pass too.
other=$(PATH="${PATH#"$PWD/$venv/bin:"}" command -v cfn-lint || true)
if [ -n "$other" ]; then
  echo "cfn-lint $("$other" --version | awk '{print $2}') ($other) template.yaml"
  "$other" template.yaml
fi
sam --version
sam validate --lint --template-file template.yaml
sam validate --template-file template.yaml

if [ "${QUICK:-}" = 1 ]; then
  echo "QUICK=1: the arm64 release build is skipped"
  exit 0
fi

rustup target add aarch64-unknown-linux-gnu \
  || fail "rustup could not add the aarch64-unknown-linux-gnu target"
rustup target list --installed | grep -qx aarch64-unknown-linux-gnu \
  || fail "the aarch64-unknown-linux-gnu target is not installed"

packages=()
for manifest in functions/*/Cargo.toml; do
  packages+=(-p "$(basename "$(dirname "$manifest")")")
done
[ "${#packages[@]}" -gt 0 ] || fail "no functions under functions/"
count=$(( ${#packages[@]} / 2 ))

base_target=${CARGO_TARGET_DIR:-$PWD/target}
if [ "${SHIP_PROFILE:-}" = 1 ]; then
  profile="release profile as shipped"
  export CARGO_TARGET_DIR="$base_target"
else
  profile="CI profile: release with LTO off, 16 codegen units"
  export CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
  # Its own directory, so it never invalidates a shipping build in target/.
  export CARGO_TARGET_DIR="$base_target/arm64-check"
fi

# One cargo invocation for every function: dependencies compile once and the links run in
# parallel (sam build runs one `cargo lambda build --bin <name>` per function instead).
started=$(date +%s)
cargo lambda build --release --arm64 --locked "${packages[@]}"
elapsed=$(( $(date +%s) - started ))

total=0
for manifest in functions/*/Cargo.toml; do
  name=$(basename "$(dirname "$manifest")")
  binary="$CARGO_TARGET_DIR/lambda/$name/bootstrap"
  [ -f "$binary" ] || fail "$name: $binary was not built"
  # ELF e_machine at offset 18: 0xb7 is AArch64.
  machine=$(od -An -j18 -N2 -tx2 "$binary" | tr -d ' ')
  [ "$machine" = "00b7" ] || fail "$name: $binary is not an arm64 executable (e_machine $machine)"
  size=$(stat -c %s "$binary")
  total=$(( total + size ))
  printf '  %-28s %9d bytes\n' "$name" "$size"
done
echo "arm64 release build of $count functions ($profile): ${elapsed}s, $(( total / 1024 )) KiB in all"

# sam build itself, on the artifacts just built (cargo has nothing left to do): proves each
# function's BuildMethod, Binary and CodeUri work with this workspace, offline.
started=$(date +%s)
build_dir="$CARGO_TARGET_DIR/sam-build"
sam build --template-file template.yaml --build-dir "$build_dir" > "$CARGO_TARGET_DIR/sam-build.log" 2>&1 \
  || { cat "$CARGO_TARGET_DIR/sam-build.log" >&2; fail "sam build failed"; }
built=$(find "$build_dir" -mindepth 2 -maxdepth 2 -name bootstrap -type f | wc -l)
[ "$built" -eq "$count" ] || fail "sam build made $built bootstrap files for $count functions"
echo "sam build: $built functions in $(( $(date +%s) - started ))s ($build_dir)"
