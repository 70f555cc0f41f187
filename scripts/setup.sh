#!/usr/bin/env bash
# Installs what building and testing Tessera needs on a fresh Debian machine
# with Rust from rustup. Each step checks first, so a warm machine skips it.
set -euo pipefail

TRUNK_VERSION=0.21.14
WASM_BINDGEN_VERSION=$(grep -A1 '^name = "wasm-bindgen"$' "$(dirname "$0")/../Cargo.lock" | sed -n 's/^version = "\(.*\)"/\1/p')

step() { printf '\n==> %s\n' "$*"; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if [ "$(trunk --version 2>/dev/null)" != "trunk $TRUNK_VERSION" ]; then
  step "installing trunk $TRUNK_VERSION"
  cargo install --locked "trunk@$TRUNK_VERSION"
fi

if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
  step "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (the version Cargo.lock pins)"
  # not --locked: its own lockfile names a crate the registry lacks
  cargo install --force "wasm-bindgen-cli@$WASM_BINDGEN_VERSION"
fi

if [ "${1:-}" = "--test" ]; then
  # Debian packages the tests drive for real: the browser and its driver, a
  # reverse proxy, an LDAP server, Redis, PostgreSQL (the harness runs its own
  # throw-away cluster from /usr/lib/postgresql/<version>/bin), a load generator,
  # and python3 for scripts/check-layers.py.
  need=()
  for pkg in chromium chromium-driver nginx-light slapd ldap-utils openssl redis-server postgresql wrk python3; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
  done
  if [ ${#need[@]} -gt 0 ]; then
    step "installing Debian packages: ${need[*]}"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need[@]}"
  fi

  # The real OpenID provider of the SSO tests: the npm package oidc-provider,
  # pinned by tests/oidc-provider/package-lock.json. Node.js from Debian unless
  # one is installed already (NodeSource's package bundles npm).
  provider_dir="$(dirname "$0")/../tests/oidc-provider"
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    step "installing Debian packages: nodejs npm"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends nodejs npm
  fi
  if ! node -e 'process.exit(typeof require("node:crypto").hash === "function" ? 0 : 1)'; then
    echo "oidc-provider 9 needs Node.js >= 20.12 (found $(node --version)); Debian 12 ships 18: use Debian 13 or NodeSource" >&2
    exit 1
  fi
  if ! cmp -s "$provider_dir/package-lock.json" "$provider_dir/node_modules/.tessera-installed-lock"; then
    step "installing the test OpenID provider (npm ci in tests/oidc-provider)"
    npm ci --prefix "$provider_dir" --no-audit --no-fund
    cp "$provider_dir/package-lock.json" "$provider_dir/node_modules/.tessera-installed-lock"
  fi
fi
