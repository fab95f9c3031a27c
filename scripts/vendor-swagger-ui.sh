#!/usr/bin/env bash
# Re-vendor Swagger UI (the API reference page at /api/docs/) from the npm registry into static/vendor/swagger-ui.
set -euo pipefail
VERSION=5.36.0
here=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
npm pack "swagger-ui-dist@$VERSION" >/dev/null 2>&1
tar xzf "swagger-ui-dist-$VERSION.tgz"
dest="$here/static/vendor/swagger-ui"
rm -rf "$dest" && mkdir -p "$dest"
cp package/swagger-ui-bundle.js "$dest/swagger-ui-bundle-$VERSION.js"
cp package/swagger-ui.css "$dest/swagger-ui-$VERSION.css"
cp package/LICENSE package/NOTICE package/swagger-ui-bundle.js.LICENSE.txt "$dest/"
# The bundle names its source map; none is vendored (collectstatic's manifest would look for it).
sed -i -e "s#^//\# sourceMappingURL=.*\$##" -e "s#^/\*\# sourceMappingURL=.*\*/\$##" "$dest/swagger-ui-bundle-$VERSION.js" "$dest/swagger-ui-$VERSION.css"
echo "vendored swagger-ui-dist $VERSION"
