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
# A clean clone builds everything once: incremental compilation's caches would only cost time.
[ "${CI:-}" = true ] && export CARGO_INCREMENTAL=0
target="${CARGO_TARGET_DIR:-$PWD/target}"
started=$(date +%s)

step() { printf '\n==> %s (%ss)\n' "$*" "$(( $(date +%s) - started ))"; }

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo doc -D warnings (intra-doc links, private items included)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --document-private-items --locked

step "moto_server (AWS-protocol test server)"
# The tests run moto's server from python3 (shared/tests/support/moto.rs), the benchmark runs the
# moto_server command: both must be there.
if ! command -v moto_server >/dev/null 2>&1 || ! python3 -c 'import moto.server' 2>/dev/null; then
  python3 -m pip install --quiet 'moto[server]'
fi
command -v moto_server >/dev/null 2>&1 && python3 -c 'import moto.server' \
  || { echo "moto_server is not installed and could not be installed" >&2; exit 1; }

step "independent checkers used by the tests (Python icalendar, openssl)"
# The calendar export is parsed by an iCalendar implementation that is not ours; throwaway RSA
# keys for the JaaS token tests are generated with openssl at test time (none is committed).
python3 -c 'import icalendar' 2>/dev/null || python3 -m pip install --quiet icalendar
python3 -c 'import icalendar' || { echo "python3 icalendar could not be installed" >&2; exit 1; }
command -v openssl >/dev/null 2>&1 || { echo "openssl is needed to generate test keys" >&2; exit 1; }

step "cargo test --workspace"
# Every binary and test in one build, with one feature resolution for the whole workspace. The
# later steps run these binaries: building one package on its own (`cargo build -p ...`) resolves
# other features and compiled tokio, hyper and the AWS SDKs again (docs/operations.md, "CI time").
cargo build --workspace --bins --tests --locked
cargo test --workspace --locked
export MEDICHAIN_LOCAL_BIN="$target/debug/medichain-local"

step "benchmark still runs (quick mode: two functions, debug builds, judges nothing)"
# The full benchmark (release and arm64 builds, every function) is infra/bench/run.sh; see
# docs/performance.md. This only checks that every part of it still works.
infra/bench/run.sh --quick

step "hardening: Schemathesis from docs/openapi.json (patient and doctor), a longer fuzz run of the parsers"
# Schemathesis is installed into .tools/ when missing (infra/schemathesis.sh); the fuzz targets
# are proptest suites that also run above with fewer cases. See docs/security.md.
infra/schemathesis.sh
FUZZ_CASES=20000 cargo test --locked --workspace --test fuzz_parsers --test fuzz_requests --test properties

step "browser tests (headless Chromium against the local server, static-site/tests)"
if ! command -v chromium >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium
fi
command -v chromium >/dev/null 2>&1 || { echo "chromium is not installed and could not be installed" >&2; exit 1; }
command -v npm >/dev/null 2>&1 || { echo "node 20+ and npm are needed for the browser tests" >&2; exit 1; }
if [ ! -f static-site/node_modules/.package-lock.json ] \
  || [ static-site/package-lock.json -nt static-site/node_modules/.package-lock.json ]; then
  (cd static-site && npm ci --no-audit --no-fund)
fi
(cd static-site && npm test)

step "deploy checks (cfn-lint, sam validate --lint, arm64 release build of every function)"
# QUICK=1 skips the build (lint only); see infra/check-deploy.sh and docs/operations.md.
infra/check-deploy.sh

step "done in $(( $(date +%s) - started ))s"
