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
# Speed: the prefix boots while Go builds; the test binaries are built with
# go test -c into a cache directory kept between runs (go relinks only what
# changed: a warm run links nothing), then run under one persistent
# wineserver, several at a time (CERTSIGHT_WINE_JOBS, default twice the
# cores: a windows test binary mostly waits on Wine), the slowest of the
# last run first. Each binary runs in its package directory with the flags
# go test gives it.
#
# Usage: tests/windows/run.sh [packages] [-- test flags]   (default ./...)
#   e.g. tests/windows/run.sh ./edge/... -- -run TestFastPath
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
here=$repo/tests/windows
GO=${GO:-go}
jobs=${CERTSIGHT_WINE_JOBS:-$(($(nproc) * 2))}

pkgs=()
flags=()
while [ $# -gt 0 ]; do
	if [ "$1" = -- ]; then
		shift
		for a in "$@"; do # go test's short flags are the binary's -test.*
			case $a in
			-test.*) flags+=("$a") ;;
			-*) flags+=("-test.${a#-}") ;;
			*) flags+=("$a") ;;
			esac
		done
		break
	fi
	pkgs+=("$1")
	shift
done
full=0
if [ ${#pkgs[@]} -eq 0 ] && [ ${#flags[@]} -eq 0 ]; then full=1; fi
[ ${#pkgs[@]} -gt 0 ] || pkgs=(./...)

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

# The built binaries, kept between runs, one directory per checkout; one
# run per checkout at a time (they share the binaries).
cache_base=${CERTSIGHT_WINE_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/certsight-test-windows}
cache=$cache_base/$(printf %s "$repo" | sha256sum | cut -c1-12)
mkdir -p "$cache"
exec 9>"$cache/lock"
flock 9

tmp=$(mktemp -d "${TMPDIR:-/tmp}/certsight-wine.XXXXXX")
# winebus/wineusb poll for devices without end (~4% of a core each, measured):
# nothing here needs them.
export WINEPREFIX=$tmp/prefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml,winebus.sys,wineusb.sys="
export WINE=$wine WINESERVER=$wineserver
cleanup() {
	"$wineserver" -k >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT

start=$(date +%s)
# One persistent wineserver for the whole run, and Wine's own services
# (services.exe, explorer.exe, ...) started here with their output going
# nowhere: started by the first test binary instead, they would inherit its
# output and hold it open. The prefix boots in the background while Go builds.
mkdir -p "$WINEPREFIX"
"$wineserver" -p
# Its pid, for the CPU report (without pgrep: not reported).
wspid=$( (command -v pgrep >/dev/null && for p in $(pgrep -x "$(basename "$wineserver")"); do
	tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "WINEPREFIX=$WINEPREFIX" && echo "$p"
done) | head -n 1 || true)
(
	"$wine" wineboot --init </dev/null >/dev/null 2>&1
	x86_64-w64-mingw32-gcc -O2 -shared -Wl,--kill-at -o "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" \
		"$here/prng/processprng.c" -ladvapi32
) >"$tmp/boot.log" 2>&1 &
boot=$!

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

# The binaries the end-to-end tests run (go is not on Wine's PATH), then one
# test binary per package. go test -c -o DIR/ names a binary after the last
# element of its package path: packages that share one (edge, tests/edge)
# go to separate directories.
export CERTSIGHT_BIN_DIR=$cache/bin
GOOS=windows GOARCH=amd64 "$GO" build -o "$CERTSIGHT_BIN_DIR/" ./cmd/certsight.ext ./cmd/certsight-edge ./tests/windows/storetool
GOOS=windows GOARCH=amd64 "$GO" list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}} {{.Dir}}{{end}}' "${pkgs[@]}" >"$tmp/pkgs"
declare -A seen=()
rounds=()
: >"$tmp/list"
while read -r imp dir; do
	base=${imp##*/}
	n=${seen[$base]:-0}
	seen[$base]=$((n + 1))
	rounds[n]="${rounds[n]:-} $imp"
	echo "$imp $dir $cache/tests/$n/$base.test.exe" >>"$tmp/list"
done <"$tmp/pkgs"
for n in "${!rounds[@]}"; do
	# shellcheck disable=SC2086 # a list of package paths
	GOOS=windows GOARCH=amd64 "$GO" test -c -overlay "$tmp/overlay/overlay.json" -o "$cache/tests/$n/" ${rounds[n]}
done
if [ $full -eq 1 ]; then
	# For the end-to-end test from Linux (crypt32-written stores), which
	# also reads an image with the Linux build.
	"$GO" build -o "$cache/linux/" ./cmd/certsight.ext
	"$GO" test -c -tags wine -o "$cache/linux/windows.test" ./tests/windows
fi
built=$(date +%s)
wait $boot || { cat "$tmp/boot.log" >&2; echo "test-windows: the Wine prefix did not boot" >&2; exit 1; }
export CERTSIGHT_WINE_TESTBED=1
echo "test-windows: built in $((built - start)) s, prefix ready in $(($(date +%s) - start)) s ($("$wine" --version))"

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
require_tools=${CERTSIGHT_REQUIRE_TOOLS:-} # for the end-to-end test from Linux
export CERTSIGHT_REQUIRE_TOOLS=0
mkdir -p "$tmp/out"
# The slowest packages of the last run first, so that the pool ends together.
touch "$cache/durations"
i=0
while read -r imp dir bin; do
	i=$((i + 1))
	out=$tmp/out/$(printf %03d $i)
	echo "$imp" >"$out.pkg"
	d=$(awk -v p="$imp" '$1 == p { d = $2 } END { print d + 0 }' "$cache/durations")
	[ "$d" != 0 ] || d=1000 # new: first
	printf '%s %s %s %s\n' "$d" "$out" "$dir" "$bin"
done <"$tmp/list" | sort -rn -k1,1 >"$tmp/order"
if [ $full -eq 1 ] && [ -n "$unshare" ]; then
	# A placeholder in the firmware's serial field is refused (the identity
	# test binary again, under another fake DMI tree).
	out=$tmp/out/rsmb-refused
	echo "github.com/certsight/certsight/posture/identity (RSMB placeholder)" >"$out.pkg"
	bin=$(awk '$1 == "github.com/certsight/certsight/posture/identity" { print $3 }' "$tmp/list")
	echo "0 $out $repo/posture/identity $bin" >>"$tmp/order"
fi
running=0
while read -r _ out dir bin; do
	if [ "${out##*/}" = rsmb-refused ]; then
		CERTSIGHT_TEST_SERIAL_REFUSED=1 dmi "To Be Filled By O.E.M." "$here/run-one" "$out" "$dir" "$bin" -test.run RSMB &
	else
		dmi "$fake_serial" "$here/run-one" "$out" "$dir" "$bin" ${flags[@]+"${flags[@]}"} &
	fi
	running=$((running + 1))
	if [ $running -ge "$jobs" ]; then
		wait -n || true
		running=$((running - 1))
	fi
done <"$tmp/order"
wait || true

# The whole output in package order, as go test -v prints it.
log=$tmp/test-windows.log
status=0
for f in "$tmp"/out/*.pkg; do
	out=${f%.pkg}
	cat "$out.log" >>"$log"
	rc=$(cat "$out.rc" 2>/dev/null || echo 1)
	[ "$rc" -eq 0 ] || status=1
	[ "${out##*/}" = rsmb-refused ] || echo "$(cat "$f") $(cat "$out.dur" 2>/dev/null || echo 0)" >>"$tmp/durations"
done
[ $full -eq 0 ] || cp "$tmp/durations" "$cache/durations"
grep -E '^(FAIL|panic:|---)|^\s+--- FAIL|!!! SKIPPED|SKIP: ' "$log" | grep -v -- '--- PASS' || true
echo "test-windows: $(grep -cE '^\s*--- PASS' "$log") passed, $(grep -cE '^\s*--- SKIP' "$log") skipped, $(grep -cE '^\s*--- FAIL' "$log") failed (tests and subtests, under Wine)"
if [ $status -ne 0 ]; then
	echo "test-windows: the windows suite failed; around each failure:" >&2
	grep -vE '^\s*=== (RUN|PAUSE|CONT|NAME)' "$log" | grep -B 40 -E -- '--- FAIL|^panic:|^FAIL' | tail -n 400 >&2
fi
if [ $full -eq 1 ]; then
	# Then, from Linux, crypt32-written stores against certsight.exe (runs
	# last: it writes into the prefix's registry).
	e2e=0
	(cd "$here" && CERTSIGHT_REQUIRE_TOOLS=$require_tools CERTSIGHT_LINUX_BIN_DIR=$cache/linux dmi "$fake_serial" "$cache/linux/windows.test" -test.count=1 -test.v) \
		>"$tmp/e2e.log" 2>&1 || e2e=$?
	grep -vE '^=== ' "$tmp/e2e.log" | tail -n 150
	[ $e2e -eq 0 ] || status=$e2e
fi
# CPU: this script's children (go, the test binaries and what they ran)
# and the wineserver, which is no child of ours.
ws=0
if [ -n "$wspid" ] && [ -r "/proc/$wspid/stat" ]; then
	ws=$(awk -v hz="$(getconf CLK_TCK)" '{ printf "%.1f", ($14 + $15) / hz }' "/proc/$wspid/stat")
fi
times >"$tmp/times" # not in a pipeline: a subshell has no children
cpu=$(tail -n 1 "$tmp/times" | awk '{ for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] } printf "%.1f", t }')
echo "test-windows: done in $(($(date +%s) - start)) s; CPU ${cpu} s (go, test binaries) + ${ws} s (wineserver); $jobs at a time"
exit $status
