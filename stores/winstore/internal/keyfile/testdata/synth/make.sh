#!/bin/sh
# Makes the keys and certificates that the synthesized key files are built
# from (see ../../synth_test.go, which writes the key files: go test -run
# TestSynthesizedFiles -update). openssl writes the RSA public key in
# Microsoft's PUBLICKEYBLOB form (MSBLOB) too: the CAPI containers take their
# little-endian modulus from it, so the byte order comes from a real writer.
set -eu
cd "$(dirname "$0")"
days=36500
openssl req -x509 -newkey rsa:2048 -nodes -keyout rsa.key -out rsa.pem -days $days -subj "/CN=certsight capi/O=certsight tests" 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.pem -days $days -subj "/CN=certsight other/O=certsight tests" 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ec.key -out ec.pem -days $days -subj "/CN=certsight cng/O=certsight tests" 2>/dev/null
openssl rsa -in rsa.key -pubout -outform MSBLOB -out rsa.msblob 2>/dev/null
openssl rsa -in other.key -pubout -outform MSBLOB -out other.msblob 2>/dev/null
# The private keys are not needed by any test: only public halves are read.
rm -f rsa.key other.key ec.key
