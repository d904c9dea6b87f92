#!/usr/bin/env bash
# install-deps.sh
#
# Installs the Debian/Ubuntu packages notary-hsm needs for building and for its tests
# (SoftHSM2, OpenSC, ykcs11 + pcscd, the notary CLI and notary-server, openssl, curl, jq,
# systemd-analyze and systemd-socket-activate (package systemd) for the unit tests,
# and the toolchain for native Node addons), then checks that the SoftHSM2 PKCS#11 module
# and the notary binaries are where the tests look for them. Idempotent: when everything
# is present it installs nothing and prints nothing. Needs root or passwordless sudo for
# the installation step; never reads stdin.
set -euo pipefail

PKGS=(softhsm2 opensc ykcs11 pcscd notary openssl curl jq ca-certificates make g++ python3 systemd)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if ((${#missing[@]})); then
  SUDO=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    SUDO=(sudo -n)
  fi
  echo "install-deps: installing ${missing[*]}" >&2
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null >&2
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" </dev/null >&2
fi

fail=0
[[ -e /usr/lib/softhsm/libsofthsm2.so ]] || {
  echo "install-deps: /usr/lib/softhsm/libsofthsm2.so is missing (package softhsm2)" >&2; fail=1; }
for b in notary notary-server softhsm2-util; do
  command -v "$b" >/dev/null || { echo "install-deps: '$b' is not on PATH (package notary/softhsm2)" >&2; fail=1; }
done
exit "$fail"
