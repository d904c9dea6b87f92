#!/usr/bin/env bash
# Builds the fault-injecting PKCS#11 module (fault_pkcs11.c) as a shared library.
# Usage: test/fault-shim/build.sh OUTPUT.so
# Uses $CC if set, else cc, else gcc; the PKCS#11 headers come from pkcs11js.
set -euo pipefail

if [[ $# -ne 1 || -z $1 ]]; then
  echo "usage: $0 OUTPUT.so" >&2
  exit 2
fi
out=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
includes="$root/node_modules/pkcs11js/includes"
if [[ ! -f $includes/pkcs11/pkcs11.h ]]; then
  echo "$0: PKCS#11 headers not found in $includes (run npm ci)" >&2
  exit 1
fi

cc=${CC:-}
if [[ -z $cc ]]; then
  if command -v cc >/dev/null 2>&1; then
    cc=cc
  elif command -v gcc >/dev/null 2>&1; then
    cc=gcc
  else
    echo "$0: no C compiler (cc or gcc) found" >&2
    exit 1
  fi
fi

exec "$cc" -std=gnu11 -shared -fPIC -O2 -Wall -Wextra -Werror \
  -I"$includes" -o "$out" "$here/fault_pkcs11.c" -ldl -lpthread
