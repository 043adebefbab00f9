#!/usr/bin/env bash
# One-command demo of certsight-edge: builds it, makes a throwaway PKI (root,
# intermediate, client and server certificates), starts a sample origin that
# echoes the headers it receives, puts certsight-edge in front of it, and
# calls it with curl — with the client certificate, and without one but with
# a forged Client-Cert. KEEP=1 leaves both running until Ctrl-C.
#
#   edge/demo.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
EDGE_PORT=${EDGE_PORT:-8443}
ORIGIN_PORT=${ORIGIN_PORT:-8080}
WORK=$(mktemp -d /tmp/certsight-edge-demo.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
wait_port() {
	for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
	echo "demo: nothing listens on $1" >&2
	return 1
}

(cd "$ROOT" && go build -o "$WORK/certsight-edge" ./cmd/certsight-edge && go build -o "$WORK/benchtool" ./tests/bench/edge/benchtool)
"$WORK/benchtool" gen -dir "$WORK"
"$WORK/benchtool" origin -echo -listen "127.0.0.1:$ORIGIN_PORT" & PIDS+=($!)
wait_port "$ORIGIN_PORT"
set -x
"$WORK/certsight-edge" --listen "127.0.0.1:$EDGE_PORT" --tls-cert "$WORK/server.pem" --tls-key "$WORK/server.key" \
	--client-ca "$WORK/root.pem" --origin "http://127.0.0.1:$ORIGIN_PORT" --log-format text & PIDS+=($!)
{ set +x; } 2>/dev/null
wait_port "$EDGE_PORT"
echo
echo "== with the client certificate: the origin gets Client-Cert and Client-Cert-Chain (RFC 9440)"
curl -sS --cacert "$WORK/root.pem" --cert "$WORK/client.pem" --key "$WORK/client.key" "https://127.0.0.1:$EDGE_PORT/hello"
echo
echo "== without a certificate, with a forged Client-Cert and Client_Cert: the origin gets neither"
curl -sS --cacert "$WORK/root.pem" -H 'Client-Cert: :Zm9yZ2Vk:' -H 'Client_Cert: :Zm9yZ2Vk:' "https://127.0.0.1:$EDGE_PORT/hello"
if [ "${KEEP:-0}" = 1 ]; then
	echo "demo: certsight-edge on https://127.0.0.1:$EDGE_PORT, certificates in $WORK; Ctrl-C to stop"
	wait
fi
