#!/usr/bin/env bash
# Refreshes the vendored gov.gr design system stylesheet from npm.
# Usage: infra/assets/update-digigov.sh [version]
set -euo pipefail
version="${1:-0.37.0}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "@digigov/css@$version" >/dev/null && tar xzf digigov-css-*.tgz)
cp "$tmp/package/dist/digigov.css" "$root/platform/web/assets/digigov.css"
sed -i "s/@digigov\/css [0-9.]*/@digigov\/css $version/" "$root/platform/web/assets/digigov.NOTICE.txt"
echo "vendored @digigov/css $version"
