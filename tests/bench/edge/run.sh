#!/usr/bin/env bash
# Proxy benchmark: certsight-edge against HAProxy (:%[ssl_c_der,base64]:),
# nginx ($ssl_client_escaped_cert, and njs building RFC 9440), Caddy (its
# certificate placeholder) and a bare Go httputil.ReverseProxy that copies the
# leaf without verifying. All run at once on loopback, each given the same
# PKI (leaf + intermediate, ECDSA P-256) and, where the proxy supports them,
# the same CRLs; the same Go load generator drives one at a time: WORKERS
# connections (HTTP/1.1 keep-alive), a client certificate on each, a warm-up
# second, then DURATION measured. Rounds alternate the proxies (each round
# starts one further along the list), ROUNDS times.
#
# Measured per round: requests/s, latency percentiles, and CPU time of the
# proxy's processes (children included: nginx workers) divided by the
# requests served, read from /proc/<pid>/stat. On a machine shared with
# other work, CPU per request is the steady number and req/s is not; ratios
# to HAProxy within the same run are what to compare.
#
#   make bench-edge                           # writes docs/benchmarks/data/edge.json
#   DURATION=3s ROUNDS=2 WORKERS=16 tests/bench/edge/run.sh
#   ONLY="certsight-edge haproxy" OUT=/tmp/e.json tests/bench/edge/run.sh
#   PROFILE=/tmp/prof tests/bench/edge/run.sh # certsight-edge only: cpu.pprof, allocs.pprof
#   BASELINE_BIN=/tmp/old-certsight-edge tests/bench/edge/run.sh  # also "certsight-edge-baseline"
#
# Everything it starts is stopped on exit.
set -euo pipefail
trap 'echo "bench: failed at line $LINENO" >&2' ERR
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
DURATION=${DURATION:-3s}
WARMUP=${WARMUP:-1s}
WORKERS=${WORKERS:-32}
ROUNDS=${ROUNDS:-7}
OUT=${OUT:-$ROOT/docs/benchmarks/data/edge.json}
BASE_PORT=${BASE_PORT:-18440}
ORIGIN_PORT=$((BASE_PORT))
EDGE_PORT=$((BASE_PORT + 1))
NJS_PORT=$((BASE_PORT + 2))
ESC_PORT=$((BASE_PORT + 3))
HAP_PORT=$((BASE_PORT + 4))
BARE_PORT=$((BASE_PORT + 5))
CADDY_PORT=$((BASE_PORT + 6))
EDGELOG_PORT=$((BASE_PORT + 7))
PPROF_PORT=$((BASE_PORT + 8))

WORK=$(mktemp -d /tmp/certsight-bench-edge.XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	# The origin reports how many requests arrived without a Client-Cert.
	[ -s "$WORK/origin.log" ] && cat "$WORK/origin.log" >&2
	rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

wait_port() { # port name
	for _ in $(seq 1 150); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	echo "bench: $2 did not listen on $1" >&2
	return 1
}

echo "bench: building into $WORK" >&2
(cd "$ROOT" && go build -o "$WORK/certsight-edge" ./cmd/certsight-edge && go build -o "$WORK/benchtool" ./tests/bench/edge/benchtool)
BT="$WORK/benchtool"
"$BT" gen -dir "$WORK"

declare -A PID_OF
start() { # name port command...
	local name=$1 port=$2
	shift 2
	"$@" & PIDS+=($!)
	PID_OF[$name]=$!
	TARGETS+=("$name:$port")
}
TARGETS=()
"$BT" origin -listen "127.0.0.1:$ORIGIN_PORT" 2>"$WORK/origin.log" & PIDS+=($!)
ORIGIN_PID=$!
wait_port "$ORIGIN_PORT" origin

# As nginx's keepalive_requests here: connections are not recycled during a
# round (the benchmark measures requests, not handshakes).
EDGE_ARGS=(--tls-cert "$WORK/server.pem" --tls-key "$WORK/server.key" --client-ca "$WORK/root.pem"
	--client-intermediates "$WORK/inter.pem" --crl "$WORK/crls.pem" --origin "http://127.0.0.1:$ORIGIN_PORT"
	--max-conn-requests 1000000)
if [ -n "${PROFILE:-}" ]; then
	EDGE_ARGS+=(--pprof-listen "127.0.0.1:$PPROF_PORT")
fi
start certsight-edge "$EDGE_PORT" "$WORK/certsight-edge" --listen "127.0.0.1:$EDGE_PORT" --access-log=false "${EDGE_ARGS[@]}" 2>"$WORK/edge.log"
if [ -n "${BASELINE_BIN:-}" ]; then
	BASELINE_PORT=$((BASE_PORT + 9))
	start certsight-edge-baseline "$BASELINE_PORT" "$BASELINE_BIN" --listen "127.0.0.1:$BASELINE_PORT" --access-log=false \
		"${EDGE_ARGS[@]}" 2>"$WORK/baseline.log"
fi
if [ -z "${PROFILE:-}" ]; then
	start certsight-edge+access-log "$EDGELOG_PORT" "$WORK/certsight-edge" --listen "127.0.0.1:$EDGELOG_PORT" "${EDGE_ARGS[@]}" 2>/dev/null
	start go-bare-proxy "$BARE_PORT" "$BT" bareproxy -listen "127.0.0.1:$BARE_PORT" -origin "http://127.0.0.1:$ORIGIN_PORT" \
		-cert "$WORK/server.pem" -key "$WORK/server.key" 2>"$WORK/bare.log"

	user=""
	[ "$(id -u)" -eq 0 ] && user="user root;"
	if command -v nginx >/dev/null && [ -e /usr/lib/nginx/modules/ngx_http_js_module.so ]; then
		for mode in escaped njs; do
			port=$NJS_PORT
			[ $mode = escaped ] && port=$ESC_PORT
			sed -e "s#@WORK@#$WORK#g" -e "s#@HERE@#$HERE#g" -e "s#@MODE@#$mode#g" -e "s#@PORT@#$port#g" \
				-e "s#@ORIGIN_PORT@#$ORIGIN_PORT#g" -e "s#@USER@#$user#g" "$HERE/nginx.conf.in" >"$WORK/nginx-$mode.conf"
			start "nginx-$mode" "$port" nginx -p "$WORK" -c "$WORK/nginx-$mode.conf" -e "$WORK/nginx-$mode.error.log" -g 'daemon off;'
		done
	else
		echo "bench: nginx with the njs module not installed, skipping nginx" >&2
	fi
	if command -v haproxy >/dev/null; then
		sed -e "s#@WORK@#$WORK#g" -e "s#@PORT@#$HAP_PORT#g" -e "s#@ORIGIN_PORT@#$ORIGIN_PORT#g" \
			"$HERE/haproxy.cfg.in" >"$WORK/haproxy.cfg"
		start haproxy "$HAP_PORT" haproxy -db -f "$WORK/haproxy.cfg" 2>"$WORK/haproxy.log"
	else
		echo "bench: haproxy not installed, skipping" >&2
	fi
	if command -v caddy >/dev/null; then
		sed -e "s#@WORK@#$WORK#g" -e "s#@PORT@#$CADDY_PORT#g" -e "s#@ORIGIN_PORT@#$ORIGIN_PORT#g" \
			"$HERE/Caddyfile.in" >"$WORK/Caddyfile"
		HOME=$WORK XDG_DATA_HOME=$WORK XDG_CONFIG_HOME=$WORK \
			start caddy "$CADDY_PORT" caddy run --adapter caddyfile --config "$WORK/Caddyfile" 2>"$WORK/caddy.log"
	else
		echo "bench: caddy not installed, skipping" >&2
	fi
fi
for t in "${TARGETS[@]}"; do wait_port "${t##*:}" "${t%%:*}"; done
if [ -n "${ONLY:-}" ]; then
	keep=()
	for t in "${TARGETS[@]}"; do
		case " $ONLY " in *" ${t%%:*} "*) keep+=("$t") ;; esac
	done
	TARGETS=("${keep[@]}")
fi

load() { # name port round
	timeout 120 "$BT" load -name "$1" -round "$3" -url "https://127.0.0.1:$2/" -c "$WORKERS" -d "$DURATION" -warmup "$WARMUP" \
		-pid "${PID_OF[$1]}" -origin-pid "$ORIGIN_PID" -cert "$WORK/client.pem" -key "$WORK/client.key" -cacert "$WORK/root.pem"
}

if [ -n "${PROFILE:-}" ]; then
	mkdir -p "$PROFILE"
	secs=${DURATION%s}
	echo "bench: profiling certsight-edge for ${secs}s under $WORKERS workers" >&2
	curl -fsS -o "$PROFILE/cpu.pprof" "http://127.0.0.1:$PPROF_PORT/debug/pprof/profile?seconds=$((secs - 1))" &
	prof=$!
	load certsight-edge "$EDGE_PORT" 1 >&2
	wait $prof
	curl -fsS -o "$PROFILE/allocs.pprof" "http://127.0.0.1:$PPROF_PORT/debug/pprof/allocs"
	echo "bench: wrote $PROFILE/cpu.pprof and $PROFILE/allocs.pprof" >&2
	exit 0
fi

settings=(-set "workers=$WORKERS" -set "duration=$DURATION" -set "warmup=$WARMUP" -set "rounds=$ROUNDS"
	-set "protocol=HTTP/1.1 keep-alive, one connection per worker"
	-set "client certificate=ECDSA P-256 leaf + intermediate, on every connection")
versions=(-version "certsight-edge=$(cd "$ROOT" && git describe --always --dirty 2>/dev/null || echo dev)")
# awk, not head: reading to the end spares haproxy a SIGPIPE (pipefail).
command -v haproxy >/dev/null && versions+=(-version "haproxy=$(haproxy -v | awk 'NR == 1 {print $3}')")
command -v nginx >/dev/null && versions+=(-version "nginx=$(nginx -v 2>&1 | sed 's#.*/##')")
command -v caddy >/dev/null && versions+=(-version "caddy=$(caddy version | awk '{print $1}')")
njs=$(dpkg-query -W -f '${Version}' libnginx-mod-http-js 2>/dev/null || true)
[ -n "$njs" ] && versions+=(-version "libnginx-mod-http-js=$njs")
"$BT" meta "${settings[@]}" "${versions[@]}" >"$WORK/meta.json"

echo "bench: $WORKERS workers, $WARMUP warm-up + $DURATION each, $ROUNDS round(s), HTTP/1.1 keep-alive, client certificate on every connection" >&2
: >"$WORK/results.jsonl"
n=${#TARGETS[@]}
for r in $(seq 1 "$ROUNDS"); do
	for i in $(seq 0 $((n - 1))); do
		t=${TARGETS[$(((i + r - 1) % n))]}
		load "${t%%:*}" "${t##*:}" "$r" >>"$WORK/results.jsonl"
		tail -1 "$WORK/results.jsonl" | cut -c1-200 >&2
	done
done
mkdir -p "$(dirname "$OUT")"
"$BT" report -meta "$WORK/meta.json" -base haproxy -out "$OUT" <"$WORK/results.jsonl"
echo "bench: wrote $OUT" >&2
