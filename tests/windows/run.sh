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

# Device identity: Wine builds the SMBIOS table GetSystemFirmwareTable('RSMB')
# returns from /sys/class/dmi/id, which these VMs lack. Inside a private
# mount namespace a tmpfs over /sys/class holds a fake tree; the tests are
# told what serial it holds. Without unshare (no root, no user namespaces)
# the RSMB test only checks for a clean serial or a clear error.
fake_serial=CS-WINE-0042
dmi() { # dmi SERIAL COMMAND...: run COMMAND with a fake DMI tree
	local serial=$1
	shift
	if [ -z "$unshare" ]; then "$@"; return; fi
	$unshare sh -c '
		set -e
		mount -t tmpfs certsight-dmi /sys/class
		d=/sys/class/dmi/id
		mkdir -p $d
		for kv in "bios_vendor=certsight" "bios_version=1.0" "bios_date=01/01/2026" \
			"sys_vendor=certsight test bed" "product_name=Wine Test Machine" "product_version=1" \
			"product_uuid=0b6a3bd4-3c4e-4bd4-9c6b-1f1a2b3c4d5e" "product_sku=CS-1" "product_family=certsight" \
			"board_vendor=certsight" "board_name=board" "board_version=1" "board_serial=BOARD-1" \
			"chassis_vendor=certsight" "chassis_type=3" "chassis_version=1" "chassis_serial=CHASSIS-1"; do
			printf "%s\n" "${kv#*=}" >"$d/${kv%%=*}"
		done
		printf "%s\n" "$1" >"$d/product_serial"
		shift
		exec "$@"' sh "$serial" "$@"
}
unshare=""
if unshare --mount --propagation private true 2>/dev/null; then
	unshare="unshare --mount --propagation private"
elif unshare --mount --map-root-user --propagation private true 2>/dev/null; then
	unshare="unshare --mount --map-root-user --propagation private"
fi
if [ -n "$unshare" ]; then
	export CERTSIGHT_TEST_SERIAL=$fake_serial
else
	echo "test-windows: !!! no unshare: the RSMB serial is not checked against a fake DMI tree"
fi

# Linux programs (openssl, NSS certutil, curl, nginx) cannot be run from
# inside Wine (a windows process cannot wait for a Linux child), and no
# Windows builds of them are installed: tests that need one skip loudly here
# (CERTSIGHT_REQUIRE_TOOLS=0) and run natively in make test. The skips are
# listed below.
log=$tmp/test-windows.log
status=0
pkgs=("$@")
[ ${#pkgs[@]} -gt 0 ] || pkgs=(./...)
CERTSIGHT_REQUIRE_TOOLS=0 GOOS=windows GOARCH=amd64 dmi "$fake_serial" "$GO" test -v -overlay "$tmp/overlay/overlay.json" \
	-exec "$here/wine-exec" -count=1 "${pkgs[@]}" >"$log" 2>&1 || status=$?
grep -E '^(ok|FAIL|panic:|---)|^\s+--- FAIL|!!! SKIPPED|SKIP: ' "$log" | grep -v -- '--- PASS' || true
echo "test-windows: $(grep -cE '^\s*--- PASS' "$log") passed, $(grep -cE '^\s*--- SKIP' "$log") skipped, $(grep -cE '^\s*--- FAIL' "$log") failed (tests and subtests, under Wine)"
if [ $status -ne 0 ]; then
	echo "test-windows: the windows suite failed; around each failure:" >&2
	grep -vE '^\s*=== (RUN|PAUSE|CONT|NAME)' "$log" | grep -B 40 -E -- '--- FAIL|^panic:|^FAIL' | tail -n 400 >&2
fi
if [ $# -eq 0 ] && [ -n "$unshare" ]; then
	# A placeholder in the firmware's serial field is refused.
	refused=0
	CERTSIGHT_TEST_SERIAL_REFUSED=1 GOOS=windows GOARCH=amd64 dmi "To Be Filled By O.E.M." "$GO" test \
		-overlay "$tmp/overlay/overlay.json" -exec "$here/wine-exec" -count=1 -run RSMB ./posture/identity/ \
		>"$tmp/refused.log" 2>&1 || refused=$?
	echo "test-windows: RSMB placeholder: $(tail -n 1 "$tmp/refused.log")"
	[ $refused -eq 0 ] || { cat "$tmp/refused.log"; status=$refused; }
fi
if [ $# -eq 0 ]; then
	# Then, from Linux, crypt32-written stores against certsight.exe (runs
	# last: it writes into the prefix's registry).
	e2e=0
	dmi "$fake_serial" "$GO" test -tags wine -count=1 -v ./tests/windows/ >"$tmp/e2e.log" 2>&1 || e2e=$?
	grep -vE '^=== ' "$tmp/e2e.log" | tail -n 150
	[ $e2e -eq 0 ] || status=$e2e
fi
echo "test-windows: done in $(( $(date +%s) - start )) s"
exit $status
