#!/usr/bin/env bash
# make test-windows: the whole test suite built for windows/amd64 and run
# under Wine, with Wine's own crypt32 writing the certificate stores that the
# end-to-end tests read. Installs what it needs (Debian: wine64, mingw-w64),
# makes a fresh Wine prefix in a temporary directory, removes it afterwards.
#
# Wine 8.0 (Debian 12) needs two stand-ins for Go programs:
#   - bcryptprimitives.dll (ProcessPrng), built here from processprng.c;
#   - for the test binaries only, a GOROOT overlay so that os.RemoveAll
#     falls back to the older delete call when Wine answers
#     STATUS_NOT_IMPLEMENTED (t.TempDir cleanup otherwise fails).
#
# Usage: tests/windows/run.sh [go test flags and packages] (default ./...)
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
here=$repo/tests/windows
GO=${GO:-go}

wine=""
for w in "${WINE:-}" /usr/lib/wine/wine64 "$(command -v wine64 || true)"; do
	if [ -n "$w" ] && [ -x "$w" ]; then wine=$w; break; fi
done
if [ -z "$wine" ] || ! command -v x86_64-w64-mingw32-gcc >/dev/null; then
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	echo "test-windows: installing wine64 and gcc-mingw-w64-x86-64-win32"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
		wine64 gcc-mingw-w64-x86-64-win32 >/dev/null
	wine=/usr/lib/wine/wine64
fi
wineserver=$(dirname "$wine")/wineserver64
[ -x "$wineserver" ] || wineserver=$(dirname "$wine")/wineserver

tmp=$(mktemp -d "${TMPDIR:-/tmp}/certsight-wine.XXXXXX")
export WINEPREFIX=$tmp/prefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
export WINE=$wine WINESERVER=$wineserver
cleanup() {
	"$wineserver" -k >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT

start=$(date +%s)
# One persistent wineserver for the whole run, and Wine's own services
# (services.exe, explorer.exe, ...) started here with their output going
# nowhere: started by the first test binary instead, they would inherit go
# test's output pipe and hold it open ("Test I/O incomplete").
mkdir -p "$WINEPREFIX"
"$wineserver" -p
"$wine" wineboot --init </dev/null >/dev/null 2>&1
x86_64-w64-mingw32-gcc -O2 -shared -Wl,--kill-at -o "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" \
	"$here/prng/processprng.c" -ladvapi32

# The os.RemoveAll overlay: a copy of GOROOT's at_windows.go whose Deleteat
# fallback also accepts STATUS_NOT_IMPLEMENTED. Fails loudly when a new Go
# changes the file so that the patch no longer applies.
goroot=$("$GO" env GOROOT)
at=$goroot/src/internal/syscall/windows/at_windows.go
mkdir -p "$tmp/overlay"
sed 's|^\t\tSTATUS_NOT_SUPPORTED:     // the file system|\t\tNTStatus(0xC0000002), // STATUS_NOT_IMPLEMENTED (Wine 8.0; test bed only)\n&|' \
	"$at" >"$tmp/overlay/at_windows.go"
if ! grep -q 'NTStatus(0xC0000002)' "$tmp/overlay/at_windows.go"; then
	echo "test-windows: the os.RemoveAll overlay no longer applies to $at (Go $("$GO" env GOVERSION)); update tests/windows/run.sh" >&2
	exit 1
fi
printf '{"Replace":{"%s":"%s"}}\n' "$at" "$tmp/overlay/at_windows.go" >"$tmp/overlay/overlay.json"

# The binaries the end-to-end tests run (go is not on Wine's PATH).
export CERTSIGHT_BIN_DIR=$tmp/bin
GOOS=windows GOARCH=amd64 "$GO" build -o "$CERTSIGHT_BIN_DIR/certsight.ext.exe" ./cmd/certsight.ext
GOOS=windows GOARCH=amd64 "$GO" build -o "$CERTSIGHT_BIN_DIR/certsight-edge.exe" ./cmd/certsight-edge
GOOS=windows GOARCH=amd64 "$GO" build -o "$CERTSIGHT_BIN_DIR/storetool.exe" ./tests/windows/storetool
export CERTSIGHT_WINE_TESTBED=1
echo "test-windows: prefix ready in $(( $(date +%s) - start )) s ($("$wine" --version))"

status=0
if [ $# -gt 0 ]; then
	GOOS=windows GOARCH=amd64 "$GO" test -overlay "$tmp/overlay/overlay.json" -exec "$here/wine-exec" -count=1 "$@" || status=$?
else
	GOOS=windows GOARCH=amd64 "$GO" test -overlay "$tmp/overlay/overlay.json" -exec "$here/wine-exec" -count=1 ./... || status=$?
	# Then, from Linux, crypt32-written stores against certsight.exe (runs
	# last: it writes into the prefix's registry).
	"$GO" test -tags wine -count=1 ./tests/windows/ || status=$?
fi
echo "test-windows: done in $(( $(date +%s) - start )) s"
exit $status
