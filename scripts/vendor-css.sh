#!/usr/bin/env bash
# Re-vendor modern-normalize (the stylesheet's foundation, loaded before css/ivmweb.css) from the npm registry
# into static/vendor/modern-normalize.
set -euo pipefail
VERSION=3.0.1
here=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
npm pack "modern-normalize@$VERSION" >/dev/null 2>&1
tar xzf "modern-normalize-$VERSION.tgz"
dest="$here/static/vendor/modern-normalize"
rm -rf "$dest" && mkdir -p "$dest"
cp package/modern-normalize.css "$dest/modern-normalize-$VERSION.css"
cp package/license "$dest/LICENSE"
echo "vendored modern-normalize $VERSION"
