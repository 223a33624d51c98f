#!/usr/bin/env bash
# Fuzzes the API from its own OpenAPI document (docs/openapi.json) with Schemathesis, every check
# on, once signed in as a patient and once as a doctor, against a fresh local server.
#
#   infra/schemathesis.sh                     the bounded run infra/test.sh makes (~2-3 min)
#   EXAMPLES=200 infra/schemathesis.sh        more cases per operation
#   SEED=random infra/schemathesis.sh         a new seed (the default seed keeps CI reproducible)
#
# Schemathesis comes from PyPI into .tools/schemathesis (gitignored), pinned. The server is
# medichain-local (built here; $CARGO_TARGET_DIR is honoured) on a free loopback port with a temporary
# data directory; it is stopped on every exit path.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SCHEMATHESIS_VERSION=4.32.5
EXAMPLES="${EXAMPLES:-100}"
SEED="${SEED:-20261124}"
venv=.tools/schemathesis
st="$venv/bin/schemathesis"

if ! "$st" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  echo "installing schemathesis $SCHEMATHESIS_VERSION into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
"$st" --version | grep -q "$SCHEMATHESIS_VERSION" || { echo "schemathesis could not be installed" >&2; exit 1; }

# infra/test.sh hands over the server it built with the whole workspace (MEDICHAIN_LOCAL_BIN).
server_bin="${MEDICHAIN_LOCAL_BIN:-}"
if [ -z "$server_bin" ]; then
  cargo build --quiet --locked -p medichain-local
  server_bin="${CARGO_TARGET_DIR:-target}/debug/medichain-local"
fi
[ -x "$server_bin" ] || { echo "no local server at $server_bin" >&2; exit 1; }

data_dir=$(mktemp -d)
report_dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
base="http://127.0.0.1:$port"
RUST_LOG=warn "$server_bin" --addr "127.0.0.1:$port" --data-dir "$data_dir" \
  >"$report_dir/server.log" 2>&1 &
server_pid=$!
cleanup() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  rm -rf "$data_dir"
}
trap cleanup EXIT

for _ in $(seq 1 100); do
  curl -fsS "$base/openapi.json" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$report_dir/server.log" >&2; exit 1; }
  sleep 0.1
done

token_of() {
  curl -fsS -X POST "$base/dev/login" -H 'content-type: application/json' \
    -d "{\"user_id\": \"$1\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}

# Three working days (Mon-Fri) from the day after tomorrow on, for the slot-date dictionary.
eval "$(python3 -c '
import datetime
d = datetime.date.today() + datetime.timedelta(days=2)
n = 0
while n < 3:
    if d.weekday() < 5:
        n += 1
        print(f"export SLOT_DATE_{n}={d.isoformat()}")
    d += datetime.timedelta(days=1)
')"

# Schemathesis does not substitute variables inside dictionaries: fill them in a copy.
config="$report_dir/schemathesis.toml"
sed -e "s/\${SLOT_DATE_1}/$SLOT_DATE_1/" -e "s/\${SLOT_DATE_2}/$SLOT_DATE_2/" \
  -e "s/\${SLOT_DATE_3}/$SLOT_DATE_3/" infra/schemathesis.toml >"$config"

seed_args=()
[ "$SEED" = random ] || seed_args=(--seed "$SEED")

status=0
for user in patient-rivera doctor-okafor; do
  echo "--- schemathesis as $user ($EXAMPLES examples per operation)"
  token=$(token_of "$user")
  # Every check; the document is served by the server under test, so the fuzzed description
  # is exactly what clients get.
  if ! "$st" --config-file "$config" run "$base/openapi.json" --url "$base" \
      --checks all \
      --header "Authorization: Bearer $token" \
      --max-examples "$EXAMPLES" "${seed_args[@]}" \
      --workers 1 \
      --request-timeout 10 \
      --suppress-health-check too_slow,filter_too_much \
      --report junit --report-dir "$report_dir/$user" \
      --output-truncate false; then
    status=1
  fi
done

if grep -q "panicked" "$report_dir/server.log"; then
  echo "the server panicked during the run:" >&2
  grep -A5 "panicked" "$report_dir/server.log" >&2
  status=1
fi
if [ "$status" -ne 0 ]; then
  echo "schemathesis found problems; reports in $report_dir" >&2
else
  rm -rf "$report_dir"
fi
exit "$status"
