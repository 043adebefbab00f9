#!/usr/bin/env bash
# Makes the fuzz fixtures: a root CA (ca.pem; its key is thrown away) and a
# CRL it signed with `openssl ca -gencrl` (ca.crl, DER) revoking serial 0x1001.
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/ca.key" -out ca.pem \
	-days 3650 -subj "/C=US/O=certsight test/CN=Fetch Fuzz CA" \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
printf 'R\t301231235959Z\t240101000000Z,keyCompromise\t1001\tunknown\t/CN=revoked\n' >"$tmp/index.txt"
echo 01 >"$tmp/crlnumber"
cat >"$tmp/ca.cnf" <<CNF
[ca]
default_ca = d
[d]
database = $tmp/index.txt
crlnumber = $tmp/crlnumber
default_md = sha256
default_crl_days = 30
CNF
openssl ca -gencrl -batch -config "$tmp/ca.cnf" -cert ca.pem -keyfile "$tmp/ca.key" -out "$tmp/ca.crl.pem" 2>/dev/null
openssl crl -in "$tmp/ca.crl.pem" -outform DER -out ca.crl
