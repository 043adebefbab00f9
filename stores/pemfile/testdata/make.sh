#!/bin/sh
# Regenerates the pemfile fixtures with the real openssl. Run from anywhere:
#   sh stores/pemfile/testdata/make.sh
# Every file is test-only material; the keys protect nothing.
set -eu
cd "$(dirname "$0")"
rm -rf pair locked mixed bundle-dir ./*.pem ./*.der ./*.key
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

days=3650
ossl() { openssl "$@" 2>/dev/null; }

# A CA that signs the client certificates, so that those are leaves (CA:FALSE).
ossl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/ca.key" -out ca.pem -days $days \
	-subj "/CN=Fixture CA/O=certsight" \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"

leaf() { # name cn keyspec...
	name=$1 cn=$2; shift 2
	ossl req -new -newkey "$@" -nodes -keyout "$tmp/$name.key" -out "$tmp/$name.csr" \
		-subj "/CN=$cn/O=certsight"
	printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n' >"$tmp/ext"
	ossl x509 -req -in "$tmp/$name.csr" -CA ca.pem -CAkey "$tmp/ca.key" -CAcreateserial \
		-CAserial "$tmp/ca.srl" -days $days -extfile "$tmp/ext" -out "$tmp/$name.pem"
}
leaf client1 client1 rsa:2048
leaf client2 client2 rsa:2048
leaf ec ec-client ec -pkeyopt ec_paramgen_curve:P-256
leaf enc encrypted-client rsa:2048
leaf legacy legacy-encrypted-client rsa:2048
leaf locked locked-client rsa:2048

# Certificate and key in one file (PKCS#8 key), and an EC one (SEC1 "EC PRIVATE KEY").
cat "$tmp/client1.pem" "$tmp/client1.key" >combined.pem
ossl ec -in "$tmp/ec.key" -out "$tmp/ec.sec1"
cat "$tmp/ec.pem" "$tmp/ec.sec1" >ec-combined.pem

# Certificate and key in two files of one directory.
mkdir pair
cp "$tmp/client2.pem" pair/client.pem
cp "$tmp/client2.key" pair/client_key.pem

# A certificate with the key of another certificate.
cat "$tmp/client1.pem" "$tmp/client2.key" >wrongkey.pem

# Encrypted keys: PKCS#8 "ENCRYPTED PRIVATE KEY", and a legacy Proc-Type header.
ossl pkcs8 -topk8 -in "$tmp/enc.key" -v2 aes-256-cbc -passout pass:secret -out "$tmp/enc.p8"
cat "$tmp/enc.pem" "$tmp/enc.p8" >encrypted.pem
ossl rsa -in "$tmp/legacy.key" -traditional -aes256 -passout pass:secret -out "$tmp/legacy.enc"
cat "$tmp/legacy.pem" "$tmp/legacy.enc" >encrypted-legacy.pem

# An encrypted key in its own file: the only key among the files read.
mkdir locked
cp "$tmp/locked.pem" locked/client.pem
ossl pkcs8 -topk8 -in "$tmp/locked.key" -v2 aes-256-cbc -passout pass:secret -out locked/client_key.pem

# A DER certificate.
ossl x509 -in "$tmp/client1.pem" -outform DER -out client1.der

# A bundle: leaf then CA; and a leaf, its key and the CA in one file.
cat "$tmp/client2.pem" ca.pem >bundle.pem
cat "$tmp/client1.pem" "$tmp/client1.key" ca.pem >chain-with-key.pem

# A directory with certificates among other files (as /etc/ssl/certs holds).
mkdir mixed
cp "$tmp/client1.pem" mixed/a.pem
ossl x509 -in "$tmp/client2.pem" -outform DER -out mixed/b.crt
printf 'These are not certificates.\n' >mixed/README.txt
printf '0123456789' >mixed/digits.bin
ossl req -new -key "$tmp/client1.key" -subj "/CN=request" -out mixed/request.csr
