#!/usr/bin/env bash
# demo.sh — what `make demo` shows today.
#
# Prepares the checkout (Debian packages, node_modules, dist/), starts a real
# notary-server on a free 127.0.0.1 port (in-memory storage), lets the stock notary CLI
# publish a repository with a delegation, then lists it with `notary-hsm list` (which
# verifies the whole chain) and checks that it shows exactly what `notary list` shows.
# Everything it starts, it stops. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "Preparing: system packages, node_modules, build"
make --no-print-directory deps build >/dev/null

WORK=$(mktemp -d "${TMPDIR:-/tmp}/notary-hsm-demo.XXXXXX")
SERVER_PID=''
cleanup() {
  if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
URL="http://127.0.0.1:$PORT"
cat > "$WORK/server.json" <<JSON
{
  "server": { "http_addr": "127.0.0.1:$PORT" },
  "trust_service": { "type": "local" },
  "storage": { "backend": "memory" },
  "logging": { "level": "warn" }
}
JSON
say "Starting notary-server on $URL (in-memory storage)"
notary-server -config "$WORK/server.json" </dev/null >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
  curl -fsS --max-time 1 "$URL/_notary_server/health" >/dev/null 2>&1 && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; exit 1; }
  sleep 0.1
done
curl -fsS --max-time 1 "$URL/_notary_server/health" >/dev/null

GUN=localhost:5000/demo/app
export NOTARY_ROOT_PASSPHRASE=demo-root NOTARY_TARGETS_PASSPHRASE=demo-targets \
  NOTARY_SNAPSHOT_PASSPHRASE=demo-snapshot NOTARY_DELEGATION_PASSPHRASE=demo-delegation
N=(notary -s "$URL" -d "$WORK/trust")
quiet() { "$@" >"$WORK/step.log" 2>&1 || { cat "$WORK/step.log" >&2; exit 1; }; }

say "The stock notary CLI publishes $GUN: two tags, then a targets/releases delegation with one more"
printf 'app 1.0\n' >"$WORK/app-1.0"; printf 'app 1.1\n' >"$WORK/app-1.1"; printf 'app 2.0\n' >"$WORK/app-2.0"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
  -subj "/CN=releases" -keyout "$WORK/releases.key" -out "$WORK/releases.crt" 2>/dev/null
quiet "${N[@]}" init "$GUN"
quiet "${N[@]}" add "$GUN" v1.0 "$WORK/app-1.0"
quiet "${N[@]}" add "$GUN" v1.1 "$WORK/app-1.1"
quiet "${N[@]}" publish "$GUN"
quiet "${N[@]}" key rotate "$GUN" snapshot -r
quiet "${N[@]}" delegation add "$GUN" targets/releases "$WORK/releases.crt" --all-paths
quiet "${N[@]}" key import "$WORK/releases.key" --role targets/releases
quiet "${N[@]}" publish "$GUN"
quiet "${N[@]}" add "$GUN" v2.0 "$WORK/app-2.0" --roles targets/releases
quiet "${N[@]}" publish "$GUN"
echo "published."

say "notary-hsm list $GUN  (verifies root → timestamp → snapshot → targets → delegations)"
"$ROOT/bin/notary-hsm" list "$GUN" --server "$URL" | tee "$WORK/ours.txt"

say "notary list $GUN  (the stock CLI, for comparison)"
"${N[@]}" list "$GUN" | tee "$WORK/theirs.txt"

say "notary-hsm list $GUN --json"
"$ROOT/bin/notary-hsm" list "$GUN" --server "$URL" --json 2>/dev/null
echo

rows() { awk 'NR > 2 && NF >= 4 { print $1, $2, $3, $4 }' "$1" | sort; }
if diff <(rows "$WORK/ours.txt") <(rows "$WORK/theirs.txt") >/dev/null; then
  say "OK: notary-hsm and the notary CLI agree on every tag, digest, size and role"
else
  say "MISMATCH between notary-hsm and notary list:"
  diff <(rows "$WORK/ours.txt") <(rows "$WORK/theirs.txt") >&2 || true
  exit 1
fi

echo
echo "Not shown yet (coming with the PKCS#11 bridge and the daemon): keys on a SoftHSM2"
echo "token, signing through notary-hsmd, and verification against a pinned root."
