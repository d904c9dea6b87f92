#!/usr/bin/env bash
# init-token.sh DIR LABEL SOPIN PIN
#
# Creates (or reuses) a private SoftHSM2 setup in DIR: DIR/softhsm2.conf from
# softhsm2.conf.template with its own token directory DIR/tokens, initializes token LABEL
# there unless it already exists, and prints the config path for SOFTHSM2_CONF:
#   export SOFTHSM2_CONF=$(softhsm/init-token.sh "$(mktemp -d)" notary-test 12345678 123456)
# The PKCS#11 module is /usr/lib/softhsm/libsofthsm2.so (package softhsm2,
# scripts/install-deps.sh). Use one DIR per process; never share a token directory.
set -euo pipefail

usage='usage: init-token.sh DIR LABEL SOPIN PIN'
DIR=${1:?$usage}
LABEL=${2:?$usage}
SOPIN=${3:?$usage}
PIN=${4:?$usage}
HERE=$(cd "$(dirname "$0")" && pwd)
command -v softhsm2-util >/dev/null || { echo "softhsm2-util not installed (scripts/install-deps.sh)" >&2; exit 1; }

mkdir -p "$DIR/tokens"
chmod 700 "$DIR/tokens"
DIR=$(cd "$DIR" && pwd)
CONF=$DIR/softhsm2.conf
sed "s|@TOKENDIR@|$DIR/tokens|" "$HERE/softhsm2.conf.template" > "$CONF"
export SOFTHSM2_CONF=$CONF

labels=$(softhsm2-util --show-slots 2>/dev/null | sed -n 's/^ *Label: *//p' | sed 's/ *$//')
if ! grep -qxF -- "$LABEL" <<<"$labels"; then
  softhsm2-util --init-token --free --label "$LABEL" --so-pin "$SOPIN" --pin "$PIN" >&2
fi
echo "$CONF"
