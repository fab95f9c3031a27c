#!/usr/bin/env bash
# Re-vendor axe-core (the accessibility checker the Chromium tests inject) from the npm registry into
# tests/vendor/axe-core. A test tool: it lives under tests/, so collectstatic never serves it to anyone.
set -euo pipefail
VERSION=4.14.1
here=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
npm pack "axe-core@$VERSION" >/dev/null 2>&1
tar xzf "axe-core-$VERSION.tgz"
dest="$here/tests/vendor/axe-core"
rm -rf "$dest" && mkdir -p "$dest"
cp package/axe.min.js "$dest/axe-$VERSION.min.js"
cp package/LICENSE "$dest/"
echo "vendored axe-core $VERSION"
