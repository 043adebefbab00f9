#!/usr/bin/env bash
# package.sh FORMAT ARCH VERSION DIST OUTDIR — make one .deb or .rpm with nfpm.
# DIST holds <os>_<arch>/ binaries (make cross). nfpm does not expand variables
# in file sources, so the config is rendered first. NFPM names the nfpm binary.
set -euo pipefail
format=$1 arch=$2 version=$3 dist=$4 out=$5
root=$(cd "$(dirname "$0")/../.." && pwd)
nfpm=${NFPM:-$root/bin/nfpm}
if [ ! -x "$nfpm" ]; then
	mkdir -p "$(dirname "$nfpm")"
	go -C "$root/build/tools" build -o "$nfpm" github.com/goreleaser/nfpm/v2/cmd/nfpm
fi
dist=$(cd "$dist" && pwd)
mkdir -p "$out"
cfg=$(mktemp --suffix=.yaml)
trap 'rm -f "$cfg"' EXIT
sed -e "s|\${ARCH}|$arch|g" -e "s|\${VERSION}|$version|g" -e "s|\${DIST}|$dist|g" \
	"$root/build/package/nfpm.yaml" > "$cfg"
cd "$root"
"$nfpm" package --config "$cfg" --packager "$format" --target "$out/"
