#!/usr/bin/env bash
# Re-vendor htmx and its websocket extension from the npm registry into static/vendor/htmx.
set -euo pipefail
HTMX=2.0.11
WS=2.0.4
here=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
npm pack "htmx.org@$HTMX" "htmx-ext-ws@$WS" >/dev/null
tar xzf "htmx.org-$HTMX.tgz" && cp package/dist/htmx.min.js "$here/static/vendor/htmx/htmx-$HTMX.min.js" && cp package/LICENSE "$here/static/vendor/htmx/LICENSE"
rm -rf package && tar xzf "htmx-ext-ws-$WS.tgz" && cp package/dist/ws.min.js "$here/static/vendor/htmx/ext-ws-$WS.min.js"
echo "vendored htmx $HTMX and htmx-ext-ws $WS"
