#!/usr/bin/env bash
# Proxy benchmark: certsight-edge against nginx (njs RFC 9440 config and
# $ssl_client_escaped_cert), HAProxy (:%[ssl_c_der,base64]:), a bare Go
# httputil.ReverseProxy that copies the leaf without verifying, and a Go proxy
# that verifies the chain on every request. Each is loaded in turn on loopback
# by the same Go load generator: WORKERS connections (HTTP/1.1 keep-alive),
# a client certificate (leaf + intermediate, ECDSA P-256) on each, DURATION
# each after a one-second warm-up. Prints req/s and certsight-edge's ratio to
# each. Stops by itself; everything it starts is stopped on exit.
#
#   tests/bench/edge/run.sh                  # or: make bench-edge
#   DURATION=5s WORKERS=16 ROUNDS=2 tests/bench/edge/run.sh
#   ONLY="certsight-edge go-bare-proxy" ROUNDS=3 tests/bench/edge/run.sh   # a subset, interleaved
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
DURATION=${DURATION:-10s}
WORKERS=${WORKERS:-32}
ROUNDS=${ROUNDS:-1}
BASE_PORT=${BASE_PORT:-18440}
ORIGIN_PORT=$((BASE_PORT))
EDGE_PORT=$((BASE_PORT + 1))
NJS_PORT=$((BASE_PORT + 2))
ESC_PORT=$((BASE_PORT + 3))
HAP_PORT=$((BASE_PORT + 4))
BARE_PORT=$((BASE_PORT + 5))
VERIFY_PORT=$((BASE_PORT + 6))
EDGELOG_PORT=$((BASE_PORT + 7))

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
"$WORK/benchtool" gen -dir "$WORK"
BT="$WORK/benchtool"

"$BT" origin -listen "127.0.0.1:$ORIGIN_PORT" 2>"$WORK/origin.log" & PIDS+=($!)
wait_port "$ORIGIN_PORT" origin

EDGE_ARGS=(--tls-cert "$WORK/server.pem" --tls-key "$WORK/server.key" --client-ca "$WORK/root.pem"
	--origin "http://127.0.0.1:$ORIGIN_PORT")
"$WORK/certsight-edge" --listen "127.0.0.1:$EDGE_PORT" --access-log=false "${EDGE_ARGS[@]}" 2>"$WORK/edge.log" & PIDS+=($!)
"$WORK/certsight-edge" --listen "127.0.0.1:$EDGELOG_PORT" "${EDGE_ARGS[@]}" 2>/dev/null & PIDS+=($!)
"$BT" bareproxy -listen "127.0.0.1:$BARE_PORT" -origin "http://127.0.0.1:$ORIGIN_PORT" \
	-cert "$WORK/server.pem" -key "$WORK/server.key" 2>"$WORK/bare.log" & PIDS+=($!)
"$BT" bareproxy -verify -listen "127.0.0.1:$VERIFY_PORT" -origin "http://127.0.0.1:$ORIGIN_PORT" \
	-cert "$WORK/server.pem" -key "$WORK/server.key" -client-ca "$WORK/root.pem" 2>"$WORK/verify.log" & PIDS+=($!)

TARGETS=("certsight-edge:$EDGE_PORT" "certsight-edge+access-log:$EDGELOG_PORT" "go-bare-proxy:$BARE_PORT" "go-verify-every-request:$VERIFY_PORT")

user=""
[ "$(id -u)" -eq 0 ] && user="user root;"
if command -v nginx >/dev/null && [ -e /usr/lib/nginx/modules/ngx_http_js_module.so ]; then
	for mode in njs escaped; do
		port=$NJS_PORT
		[ $mode = escaped ] && port=$ESC_PORT
		sed -e "s#@WORK@#$WORK#g" -e "s#@HERE@#$HERE#g" -e "s#@MODE@#$mode#g" -e "s#@PORT@#$port#g" \
			-e "s#@ORIGIN_PORT@#$ORIGIN_PORT#g" -e "s#@USER@#$user#g" "$HERE/nginx.conf.in" >"$WORK/nginx-$mode.conf"
		nginx -p "$WORK" -c "$WORK/nginx-$mode.conf" -e "$WORK/nginx-$mode.error.log" -g 'daemon off;' & PIDS+=($!)
		TARGETS+=("nginx-$mode:$port")
	done
else
	echo "bench: nginx with the njs module not installed, skipping nginx" >&2
fi
if command -v haproxy >/dev/null; then
	sed -e "s#@WORK@#$WORK#g" -e "s#@PORT@#$HAP_PORT#g" -e "s#@ORIGIN_PORT@#$ORIGIN_PORT#g" \
		"$HERE/haproxy.cfg.in" >"$WORK/haproxy.cfg"
	haproxy -db -f "$WORK/haproxy.cfg" 2>"$WORK/haproxy.log" & PIDS+=($!)
	TARGETS+=("haproxy:$HAP_PORT")
else
	echo "bench: haproxy not installed, skipping" >&2
fi
for t in "${TARGETS[@]}"; do wait_port "${t##*:}" "${t%%:*}"; done
if [ -n "${ONLY:-}" ]; then
	keep=()
	for t in "${TARGETS[@]}"; do
		case " $ONLY " in *" ${t%%:*} "*) keep+=("$t") ;; esac
	done
	TARGETS=("${keep[@]}")
fi

echo "bench: $WORKERS workers, $DURATION each, $ROUNDS round(s), HTTP/1.1 keep-alive, client certificate on every request" >&2
: >"$WORK/results.jsonl"
for _ in $(seq 1 "$ROUNDS"); do
	for t in "${TARGETS[@]}"; do
		port=${t##*:}
		timeout 120 "$BT" load -name "${t%%:*}" -url "https://127.0.0.1:$port/" -c "$WORKERS" -d "$DURATION" \
			-cert "$WORK/client.pem" -key "$WORK/client.key" -cacert "$WORK/root.pem" | tee -a "$WORK/results.jsonl" >&2
	done
done
echo
"$BT" report -base certsight-edge <"$WORK/results.jsonl"
echo
echo "(certsight-edge/x > 1 means certsight-edge served more requests per second than x)"
