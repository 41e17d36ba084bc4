#!/usr/bin/env bash
# Vendor ReDoc's standalone bundle, which /api/public/v1/docs serves from the app (no CDN):
# the file comes from the npm registry's tarball of exactly REDOC_VERSION (npm checks the tarball
# against the registry's integrity hash), and app/static/redoc/VERSION records where it came
# from and its SHA-256, which tests/api/test_openapi.py checks. Re-run after changing the
# version; commit the three files it writes. Needs npm.
set -euo pipefail
REDOC_VERSION=3.0.1
cd "$(dirname "$0")/.."
DEST=app/static/redoc
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

integrity=$(cd "$work" && npm view "redoc@$REDOC_VERSION" dist.integrity)
(cd "$work" && npm pack --silent "redoc@$REDOC_VERSION" >/dev/null)
tar -xzf "$work/redoc-$REDOC_VERSION.tgz" -C "$work" package/bundles/redoc.standalone.js package/LICENSE
mkdir -p "$DEST"
cp "$work/package/bundles/redoc.standalone.js" "$DEST/redoc.standalone.js"
cp "$work/package/LICENSE" "$DEST/LICENSE"
sha=$(sha256sum "$DEST/redoc.standalone.js" | cut -d' ' -f1)
cat >"$DEST/VERSION" <<INFO
package: redoc
version: $REDOC_VERSION
licence: MIT (LICENSE beside this file, from the same tarball)
source: npm registry tarball redoc-$REDOC_VERSION.tgz, file package/bundles/redoc.standalone.js
integrity: $integrity
sha256: $sha
written by: deploy/vendor_redoc.sh
INFO
echo "vendored redoc $REDOC_VERSION into $DEST (sha256 $sha)"
