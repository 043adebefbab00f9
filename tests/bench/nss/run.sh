#!/bin/sh
# Whole-program benchmark of the NSS reader against NSS's own `certutil -L`.
# For each size it builds a database with testnss (seconds; pk12util takes
# minutes), then times, on the same database in the same run:
#   certutil -L -d sql:DIR          (only up to CERTUTIL_MAX certificates:
#                                    it needs ~45 s at 10,000)
#   nssbench read DIR               (every derived fact, key presence, trust;
#                                    all entries held, as posture reads)
#   nssbench each DIR               (the same, streamed: each entry dropped
#                                    once counted, as client_certificates reads)
# with /usr/bin/time -v for wall time and peak RSS, and prints the ratio.
#
#   tests/bench/nss/run.sh                    # sizes 1000 10000
#   SIZES="1000" CERTUTIL_MAX=10000 tests/bench/nss/run.sh
#   OUT=docs/benchmarks/data/nss.jsonl ...     # also one JSON line per measurement (make bench-nss)
set -eu
root=$(cd "$(dirname "$0")/../../.." && pwd)
sizes=${SIZES:-"1000 10000"}
certutil_max=${CERTUTIL_MAX:-1000}
out=${OUT:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cd "$root"
go build -o "$work/nssbench" ./tests/bench/nss/nssbench

# measure CMD...: runs it under /usr/bin/time -v; sets wall and cpu (user +
# system, s) and rss (KiB). On a shared machine cpu is the steadier number.
measure() {
	/usr/bin/time -v "$@" >"$work/out" 2>"$work/time" || { cat "$work/out" "$work/time" >&2; exit 1; }
	wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$work/time")
	cpu=$(awk -F': ' '/User time|System time/ {s+=$2} END {print s}' "$work/time")
	rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time")
}

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"
if [ -n "$out" ]; then
	mkdir -p "$(dirname "$out")"
	: >"$out.tmp"
fi
# record CERTS PROGRAM: one JSON line for the report generator.
record() {
	[ -n "$out" ] || return 0
	printf '{"certs":%s,"program":"%s","wall_s":%s,"cpu_s":%s,"rss_kb":%s,"cpus":%s,"loadavg":"%s"}\n' \
		"$1" "$2" "$wall" "$cpu" "$rss" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)" >>"$out.tmp"
}
printf '%-8s %-16s %8s %8s %12s %s\n' certs program wall_s cpu_s peak_rss_MB note
for n in $sizes; do
	db="$work/db$n"
	"$work/nssbench" make -n "$n" "$db"
	measure "$work/nssbench" read "$db"
	go_wall=$wall go_cpu=$cpu
	record "$n" "nssbench read"
	printf '%-8s %-16s %8.3f %8.3f %12.1f %s\n' "$n" "nssbench read" "$wall" "$cpu" "$(echo "$rss/1024" | bc -l)" "$(cat "$work/out")"
	measure "$work/nssbench" each "$db"
	record "$n" "nssbench each"
	printf '%-8s %-16s %8.3f %8.3f %12.1f %s\n' "$n" "nssbench each" "$wall" "$cpu" "$(echo "$rss/1024" | bc -l)" "$(cat "$work/out")"
	if command -v certutil >/dev/null && [ "$n" -le "$certutil_max" ]; then
		measure certutil -L -d sql:"$db"
		record "$n" "certutil -L"
		lines=$(grep -v 'SSL,S/MIME,JAR/XPI' "$work/out" | grep -c ',' || true)
		printf '%-8s %-16s %8.3f %8.3f %12.1f listed=%s\n' "$n" "certutil -L" "$wall" "$cpu" "$(echo "$rss/1024" | bc -l)" "$lines"
		printf '%-8s certutil -L / nssbench read: wall %.1fx, cpu %.1fx\n' "$n" \
			"$(echo "$wall/$go_wall" | bc -l)" "$(echo "$cpu/$go_cpu" | bc -l)"
	fi
done
if [ -n "$out" ]; then mv "$out.tmp" "$out"; echo "wrote $out"; fi
