#!/usr/bin/env bash
# demo.sh — the newcomer flow behind `make demo`.
#
# Prepares the checkout (Debian packages, node_modules, dist/), creates a SoftHSM2 token
# under ./var/demo/ with three keys generated on it, starts a real notary-server and
# notary-hsmd on free 127.0.0.1 ports, initialises a repository whose root certificate
# the daemon signs with the token's root key, signs a tag as a CI client that may only
# sign `targets/ci` tags matching v*, publishes, and shows that the stock notary CLI lists
# the same tag and digest, and verifies the tag with the root key ID pinned at init (and
# shows that no pin is refused). Then it checks the audit log and stops everything it started.
# Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
HSM=("$ROOT/bin/notary-hsm")
HSMD=("$ROOT/bin/notary-hsmd")

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

say "Preparing: system packages, node_modules, build"
make --no-print-directory deps build >/dev/null

DEMO=$ROOT/var/demo
rm -rf "$DEMO"
mkdir -p "$DEMO"
chmod 700 "$DEMO"
SERVER_PID=''
DAEMON_PID=''
cleanup() {
  for pid in $DAEMON_PID $SERVER_PID; do
    if kill -0 "$pid" 2>/dev/null; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  done
}
trap cleanup EXIT

say "A SoftHSM2 token under var/demo/ (the demo's stand-in for a YubiKey)"
PIN=$(od -An -N4 -tu4 /dev/urandom | tr -dc 0-9 | cut -c1-8)
printf '%s\n' "$PIN" > "$DEMO/token.pin"; chmod 600 "$DEMO/token.pin"
SOFTHSM2_CONF=$(softhsm/init-token.sh "$DEMO/softhsm" demo "$(od -An -N6 -tu8 /dev/urandom | tr -dc 0-9 | cut -c1-12)" "$PIN" 2>/dev/null)
echo "token 'demo' in $DEMO/softhsm (PIN in a 0600 file, never printed)"

ADMIN_TOKEN=$("${HSMD[@]}" token --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
CI_TOKEN=$("${HSMD[@]}" token --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
sha() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
GUN=localhost:5000/demo/app
cat > "$DEMO/daemon.yaml" <<YAML
# notary-hsmd configuration written by make demo
listen: 127.0.0.1:7468
state_dir: state
tokens:
  - name: demo
    profile: softhsm2
    label: demo
    pin: file:token.pin
    environment:
      SOFTHSM2_CONF: $SOFTHSM2_CONF
keys:
  - { name: root, token: demo, label: root, id: "01", role: root, guns: ["localhost:5000/demo/*"] }
  - { name: targets, token: demo, label: targets, id: "02", role: targets, guns: ["localhost:5000/demo/*"] }
  - name: ci
    token: demo
    label: ci
    id: "03"
    role: delegation
    guns: ["localhost:5000/demo/*"]
    delegation: { roles: [targets/ci, targets/releases], paths: ["**"] }
clients:
  - name: security-team
    token_sha256: $(sha "$ADMIN_TOKEN")
    admin: true
    sign:
      - { kind: root, keys: [root], guns: ["localhost:5000/demo/*"] }
      - { kind: targets, keys: [targets], guns: ["localhost:5000/demo/*"] }
  - name: ci-agent
    token_sha256: $(sha "$CI_TOKEN")
    sign:
      - { kind: delegation, keys: [ci], guns: ["localhost:5000/demo/*"], roles: [targets/ci, targets/releases], paths: ["v*"] }
YAML

say "notary-hsmd keys generate: three P-256 keys born on the token (never exported)"
for k in root:01 targets:02 ci:03; do
  "${HSMD[@]}" keys generate --config "$DEMO/daemon.yaml" --token demo --label "${k%%:*}" --id "${k##*:}"
done
"${HSMD[@]}" tokens --config "$DEMO/daemon.yaml"

SERVER_PORT=$(free_port)
SERVER_URL="http://127.0.0.1:$SERVER_PORT"
cat > "$DEMO/notary-server.json" <<JSON
{ "server": { "http_addr": "127.0.0.1:$SERVER_PORT" }, "trust_service": { "type": "local" },
  "storage": { "backend": "memory" }, "logging": { "level": "warn" } }
JSON
say "Starting notary-server on $SERVER_URL (in-memory storage)"
notary-server -config "$DEMO/notary-server.json" </dev/null >"$DEMO/notary-server.log" 2>&1 &
SERVER_PID=$!

DAEMON_PORT=$(free_port)
say "Starting notary-hsmd on 127.0.0.1:$DAEMON_PORT"
"${HSMD[@]}" serve --config "$DEMO/daemon.yaml" --listen "127.0.0.1:$DAEMON_PORT" </dev/null >"$DEMO/notary-hsmd.log" 2>&1 &
DAEMON_PID=$!
for _ in $(seq 1 100); do
  if curl -fsS --max-time 1 "$SERVER_URL/_notary_server/health" >/dev/null 2>&1 \
     && curl -fsS --max-time 1 "http://127.0.0.1:$DAEMON_PORT/readyz" >/dev/null 2>&1; then break; fi
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$DEMO/notary-server.log" >&2; exit 1; }
  kill -0 "$DAEMON_PID" 2>/dev/null || { cat "$DEMO/notary-hsmd.log" >&2; exit 1; }
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$DAEMON_PORT/readyz"; echo

export NOTARY_HSM_SIGNER="http://127.0.0.1:$DAEMON_PORT" NOTARY_HSM_SERVER=$SERVER_URL

say "security team: notary-hsm init $GUN (root certificate signed on the token, signer targets/ci, also in targets/releases for docker)"
INIT_JSON=$(NOTARY_HSM_TOKEN=$ADMIN_TOKEN "${HSM[@]}" init "$GUN" --root-key root --delegation targets/ci --delegation-key ci --docker --json)
ROOT_ID=$(printf '%s' "$INIT_JSON" | python3 -c 'import json,sys; print(json.load(sys.stdin)["rootKeyIds"][0])')
echo "initialised $GUN; root certificate key $ROOT_ID (the ID to pin, handed to everyone who pulls)"

printf 'demo manifest v1.0\n' > "$DEMO/manifest.json"
DIGEST=sha256:$(sha256sum "$DEMO/manifest.json" | cut -d' ' -f1)
SIZE=$(wc -c < "$DEMO/manifest.json" | tr -d ' ')
say "CI agent (no key file, only a scoped token): notary-hsm sign $GUN:v1.0 --role targets/ci --docker"
NOTARY_HSM_TOKEN=$CI_TOKEN "${HSM[@]}" sign "$GUN:v1.0" --digest "$DIGEST" --size "$SIZE" --role targets/ci --docker

say "The CI agent may not sign outside its scope (tag 'latest' does not match v*):"
if NOTARY_HSM_TOKEN=$CI_TOKEN "${HSM[@]}" sign "$GUN:latest" --digest "$DIGEST" --size "$SIZE" --role targets/ci --docker; then
  echo "UNEXPECTED: the out-of-scope signature was made" >&2; exit 1
fi

say "notary-hsm list $GUN"
"${HSM[@]}" list "$GUN" 2>/dev/null | tee "$DEMO/ours.txt"

say "notary list $GUN  (the stock notary CLI, fresh trust directory)"
notary -s "$SERVER_URL" -d "$DEMO/notary-trust" list "$GUN" | tee "$DEMO/theirs.txt"

rows() { awk 'NR > 2 && NF >= 4 { print $1, $2, $3, $4 }' "$1" | sort; }
grep -q "${DIGEST#sha256:}" "$DEMO/theirs.txt" || { echo "notary does not list the signed digest" >&2; exit 1; }
diff <(rows "$DEMO/ours.txt") <(rows "$DEMO/theirs.txt") >/dev/null \
  || { echo "MISMATCH between notary-hsm and notary list" >&2; exit 1; }

say "What docker pull reads (targets/releases, then targets): notary list $GUN --roles targets/releases"
notary -s "$SERVER_URL" -d "$DEMO/notary-trust" list "$GUN" --roles targets/releases | tee "$DEMO/docker.txt"
grep -q "${DIGEST#sha256:}" "$DEMO/docker.txt" || { echo "targets/releases does not hold the tag: docker would not see it" >&2; exit 1; }

say "Anyone pulling: notary-hsm verify $GUN:v1.0 --pin-root $ROOT_ID (no trust on first use)"
"${HSM[@]}" verify "$GUN:v1.0" --pin-root "$ROOT_ID" --trust-dir "$DEMO/trust" | tee "$DEMO/verified.txt"
grep -q "$DIGEST" "$DEMO/verified.txt" || { echo "verify did not print the signed digest" >&2; exit 1; }
if "${HSM[@]}" verify "$GUN:v1.0" --trust-dir "$DEMO/trust-empty" >/dev/null 2>&1; then
  echo "UNEXPECTED: verify trusted a root without a pin" >&2; exit 1
fi
echo "(without --pin-root, verify refuses: ROOT_NOT_PINNED)"

kill "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null || true; DAEMON_PID=''
say "The audit log: every decision, hash-chained"
"${HSM[@]}" audit show --state-dir "$DEMO/state"
say "Checked against its checkpoint in the token (a log cut short or restored from an old copy fails here, and the daemon would not start on it)"
"${HSMD[@]}" checkpoint export --config "$DEMO/daemon.yaml" --out "$DEMO/checkpoint.json"
"${HSM[@]}" audit verify --state-dir "$DEMO/state" --checkpoint "$DEMO/checkpoint.json"

say "OK: the tag signed through the daemon is what the stock notary CLI lists, and what docker pulls read"
echo "(Next: delegation add/remove, k-of-n roots, rotate and the offline root ceremony (root export, sign, import) work the same way; see README.md.)"
