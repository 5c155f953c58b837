#!/usr/bin/env bash
# Refreshes the vendored Leaflet (BSD-2-Clause) from npm: the map of the
# bulky-waste address step, shown only where a municipality configures its
# own tile server. Nothing is loaded from a CDN.
# Usage: infra/assets/update-leaflet.sh [version]
set -euo pipefail
version="${1:-1.9.4}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "leaflet@$version" >/dev/null && tar xzf leaflet-*.tgz)
dest="$root/platform/web/assets/leaflet"
mkdir -p "$dest"
cp "$tmp/package/dist/leaflet.js" "$tmp/package/dist/leaflet.css" "$tmp/package/LICENSE" "$dest/"
echo "$version" > "$dest/VERSION"
echo "vendored leaflet $version"
