#!/bin/sh
# make.sh regenerates the cert package's fixtures with real OpenSSL and records
# what OpenSSL itself says about each certificate in expected.txt, so the Go
# tests compare cert.NewInfo against OpenSSL rather than against themselves.
#
# Run from anywhere: sh cert/testdata/make.sh. Keys are random, so every run
# gives new bytes and a matching new expected.txt; commit them together.
# (The fuzz seed corpora under fuzz/ were cut from these fixtures once; they
# stay valid seeds after a rerun and need no regeneration.)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

pass=certsight # password of the encrypted key fixtures

# --- keys -------------------------------------------------------------------
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4096 -out root.key 2>/dev/null      # PKCS#8
openssl ecparam -name secp384r1 -genkey -noout -out inter.key                              # SEC1
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out leaf.key               # PKCS#8
openssl ec -in leaf.key -out leaf.sec1.key 2>/dev/null                                     # SEC1 copy
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa2048.key 2>/dev/null  # PKCS#8
openssl rsa -in rsa2048.key -traditional -out rsa2048.pkcs1.key 2>/dev/null                # PKCS#1 copy
openssl genpkey -algorithm ED25519 -out ed25519.key                                        # PKCS#8
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out other.key              # unrelated key
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out lookalike.key          # look-alike CA key
openssl pkcs8 -topk8 -in leaf.key -v2 aes-256-cbc -passout "pass:$pass" -out enc-pkcs8.key
openssl pkcs8 -topk8 -in leaf.key -v2 aes-256-cbc -passout "pass:$pass" -outform DER -out enc-pkcs8.der
openssl rsa -in rsa2048.key -aes128 -traditional -passout "pass:$pass" -out enc-legacy.key 2>/dev/null
openssl pkcs8 -topk8 -nocrypt -in leaf.key -outform DER -out leaf.key.der              # PKCS#8 DER
openssl pkey -in leaf.key -outform DER -out leaf.sec1.der                                   # SEC1 DER (what pkey writes for EC)

# --- extension sections -----------------------------------------------------
big_sans=$(i=1; while [ $i -le 400 ]; do printf 'DNS:host-%04d.big.certsight.example,' $i; i=$((i+1)); done)
cat >"$work/ext.cnf" <<EOF
[req]
distinguished_name = dn_empty
[dn_empty]

[root]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash

[inter]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = DNS:client.certsight.example,DNS:*.client.certsight.example,email:james@certsight.example,IP:10.0.0.1,IP:2001:db8::1,URI:spiffe://certsight.example/client/james

[rsa]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth,emailProtection
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ed25519]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[eku_client]
extendedKeyUsage = clientAuth
[eku_email]
extendedKeyUsage = emailProtection
keyUsage = digitalSignature,nonRepudiation,keyEncipherment,dataEncipherment,keyAgreement
[eku_client_email]
extendedKeyUsage = clientAuth,emailProtection
[eku_email_client]
extendedKeyUsage = emailProtection,clientAuth
[eku_server]
extendedKeyUsage = serverAuth
keyUsage = keyAgreement,encipherOnly,decipherOnly
[eku_codesign_ts_ocsp]
extendedKeyUsage = codeSigning,timeStamping,OCSPSigning
[eku_unknown]
extendedKeyUsage = clientAuth,1.3.6.1.4.1.99999.1,1.3.6.1.4.1.311.20.2.2
[eku_none]
basicConstraints = CA:FALSE

[big]
extendedKeyUsage = clientAuth
subjectAltName = ${big_sans%,}

[selfsigned]
basicConstraints = critical,CA:FALSE
keyUsage = digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
EOF

# --- certificates -------------------------------------------------------------
dn_root='/C=US/ST=Texas/L=Austin/O=Certsight Test/OU=Roots/CN=Certsight Test Root CA'
dn_inter='/C=US/ST=Texas/L=Austin/O=Certsight Test/OU=Issuing/CN=Certsight Test Issuing CA'
dn_leaf='/C=US/ST=Texas/L=Austin/O=Access/OU=Access Admins/CN=James Royal'

# selfsign KEY OUT SERIAL SUBJECT SECTION [extra req args]
selfsign() {
	key=$1 out=$2 serial=$3 subj=$4 sect=$5
	shift 5
	openssl req -new -x509 -key "$key" -out "$out" -days 7300 -set_serial "$serial" \
		-subj "$subj" -config "$work/ext.cnf" -extensions "$sect" "$@"
}
# issue KEY OUT SERIAL SUBJECT SECTION CACERT CAKEY [extra req args]
issue() {
	key=$1 out=$2 serial=$3 subj=$4 sect=$5 ca=$6 cakey=$7
	shift 7
	openssl req -new -key "$key" -subj "$subj" -config "$work/ext.cnf" "$@" -out "$work/req.csr"
	openssl x509 -req -in "$work/req.csr" -CA "$ca" -CAkey "$cakey" -set_serial "$serial" \
		-days 3650 -sha256 -extfile "$work/ext.cnf" -extensions "$sect" -out "$out" 2>/dev/null
}

selfsign root.key root.pem 0x0F22F9 "$dn_root" root -sha256                                  # RSA 4096
issue inter.key inter.pem 0x1001 "$dn_inter" inter root.pem root.key                        # P-384
issue leaf.key leaf.pem 0x936EACBE07F201DF "$dn_leaf" leaf inter.pem inter.key              # P-256, serial with top bit set
issue rsa2048.key rsa2048.pem 0x2002 '/O=Certsight Test/CN=rsa2048 client' rsa inter.pem inter.key
issue ed25519.key ed25519.pem 0x2003 '/O=Certsight Test/CN=ed25519 client' ed25519 inter.pem inter.key
n=3000
for v in client email client_email email_client server codesign_ts_ocsp unknown none; do
	n=$((n + 1))
	issue other.key "eku-$(echo $v | tr _ -).pem" "0x$n" "/O=Certsight Test/CN=eku $v" "eku_$v" inter.pem inter.key
done
issue other.key big.pem 0x4001 '/O=Certsight Test/CN=too large for RFC 9440' big inter.pem inter.key

# Look-alike CA: the issuing CA's exact subject, another key; and a leaf it signed.
selfsign lookalike.key lookalike-ca.pem 0x1001 "$dn_inter" root -sha384
issue other.key lookalike-leaf.pem 0x5001 "$dn_leaf" leaf lookalike-ca.pem lookalike.key

# Subject equals issuer, but the root's key signed it: not self-signed.
issue other.key namesake.pem 0x6001 "$dn_root" selfsigned root.pem root.key
# Truly self-signed end-entity certificate (own key verifies, CA:FALSE).
selfsign other.key selfsigned.pem 0x6002 '/CN=self-signed client' selfsigned -sha256
# SHA-1 signatures: Go refuses them for issuance checks; self-signedness is a fact.
selfsign rsa2048.key sha1-selfsigned.pem 0x6003 '/CN=sha1 self-signed' selfsigned -sha1
openssl req -new -key other.key -subj '/CN=sha1 leaf' -config "$work/ext.cnf" -out "$work/req.csr"
openssl x509 -req -in "$work/req.csr" -CA inter.pem -CAkey inter.key -set_serial 0x6004 -days 3650 -sha1 \
	-extfile "$work/ext.cnf" -extensions selfsigned -out sha1-leaf.pem 2>/dev/null

# Names: multi-valued RDN, escapes, UTF-8, control byte, emailAddress, DC.
selfsign other.key names.pem 0x7001 \
	'/DC=com/DC=example/C=DE/O=A\/B\+C, D=E/CN=Jörg Ünal+UID=jue/emailAddress=jue@certsight.example/OU=tab	x' \
	selfsigned -sha256 -utf8 -multivalue-rdn
# Legacy string types: the "default" mask picks T61String/BMPString for non-ASCII.
{ cat <<'EOF'
[req]
distinguished_name = dn
string_mask = default
prompt = no
[dn]
C = PL
O = Łódź Sp. z o.o.
CN = Zażółć Jörg
EOF
sed -n '/^\[selfsigned\]/,$p' "$work/ext.cnf"; } >"$work/req-default.cnf"
openssl req -new -x509 -key other.key -out names-bmp.pem -days 7300 -set_serial 0x7002 -utf8 \
	-config "$work/req-default.cnf" -extensions selfsigned -sha256

# Expired and not-yet-valid, with explicit dates through `openssl ca`.
mkdir -p "$work/ca/new"
: >"$work/ca/index.txt"
echo 8001 >"$work/ca/serial"
cat >"$work/ca.cnf" <<EOF
[ca]
default_ca = ca_default
[ca_default]
dir = $work/ca
database = \$dir/index.txt
new_certs_dir = \$dir/new
serial = \$dir/serial
default_md = sha256
policy = policy_any
unique_subject = no
email_in_dn = no
[policy_any]
commonName = supplied
organizationName = optional
EOF
dated() {
	out=$1 cn=$2 start=$3 end=$4
	openssl req -new -key other.key -subj "/O=Certsight Test/CN=$cn" -config "$work/ext.cnf" -out "$work/req.csr"
	openssl ca -batch -config "$work/ca.cnf" -cert inter.pem -keyfile inter.key -in "$work/req.csr" \
		-out "$out" -notext -preserveDN -startdate "$start" -enddate "$end" \
		-extfile "$work/ext.cnf" -extensions ed25519 2>/dev/null
}
dated expired.pem expired 20200101000000Z 20210309123456Z
dated notyet.pem 'not yet valid' 20990101000000Z 20991231235959Z

# --- derived files ------------------------------------------------------------
openssl x509 -in leaf.pem -outform DER -out leaf.der
{ openssl x509 -in leaf.pem -outform DER; openssl x509 -in inter.pem -outform DER; } >chain.der
cat leaf.pem inter.pem root.pem >chain.pem
cat leaf.pem leaf.key >certkey.pem
openssl x509 -in root.pem -trustout -addtrust clientAuth -addreject emailProtection -out trusted.pem
cat rsa2048.pkcs1.key rsa2048.pem >keycert-pkcs1.pem
# Many blocks with text around them and blocks that are not ours (a CSR).
openssl req -new -key other.key -subj '/CN=csr' -config "$work/ext.cnf" -out "$work/req.csr"
{
	echo 'Bundle of everything, as an admin might keep it.'
	echo
	echo 'subject=CN=James Royal'
	cat leaf.pem
	echo 'issuer follows'
	cat inter.pem root.pem rsa2048.pem ed25519.pem
	cat "$work/req.csr"
	cat leaf.key rsa2048.pkcs1.key inter.key ed25519.key enc-pkcs8.key enc-legacy.key
	echo 'end of bundle'
} >bundle.pem
# CRLF line ends, trailing spaces, text around the blocks.
{
	printf 'Bag Attributes\n    friendlyName: James Royal   \n'
	sed 's/$/   /' leaf.pem
	printf 'between the blocks\n'
	sed 's/$/ /' inter.pem
	cat leaf.key
	printf 'the end   \n'
} | sed 's/$/\r/' >crlf.pem
# One good certificate, a CERTIFICATE block of garbage, a broken key, another good one.
{
	cat leaf.pem
	printf -- '-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----\n' "$(printf 'not a certificate at all' | openssl base64 -A)"
	printf -- '-----BEGIN PRIVATE KEY-----\n%s\n-----END PRIVATE KEY-----\n' "$(printf '0\003\002\001\000' | openssl base64 -A)"
	cat inter.pem
} >mixed-bad.pem

# --- what OpenSSL says --------------------------------------------------------
# expected.txt: one "file<TAB>fact<TAB>value" line per fact, values exactly as
# openssl prints them after its "name=" prefix (fingerprints keep their colons).
certs='root.pem inter.pem leaf.pem rsa2048.pem ed25519.pem eku-client.pem eku-email.pem
eku-client-email.pem eku-email-client.pem eku-server.pem eku-codesign-ts-ocsp.pem eku-unknown.pem
eku-none.pem big.pem lookalike-ca.pem lookalike-leaf.pem namesake.pem selfsigned.pem sha1-selfsigned.pem
sha1-leaf.pem names.pem
names-bmp.pem expired.pem notyet.pem'
after_eq() { sed 's/^[^=]*=//'; }
{
	echo "# made by make.sh with $(openssl version | cut -d' ' -f1-2); do not edit"
	for c in $certs; do
		x() { openssl x509 -in "$c" -noout "$@"; }
		printf '%s\tserial\t%s\n' "$c" "$(x -serial | after_eq)"
		printf '%s\tsha256\t%s\n' "$c" "$(x -fingerprint -sha256 | after_eq)"
		printf '%s\tsha1\t%s\n' "$c" "$(x -fingerprint -sha1 | after_eq)"
		printf '%s\tnotBefore\t%s\n' "$c" "$(x -startdate | after_eq)"
		printf '%s\tnotAfter\t%s\n' "$c" "$(x -enddate | after_eq)"
		printf '%s\tsubject_rfc2253\t%s\n' "$c" "$(x -subject -nameopt RFC2253 | sed 's/^subject=//')"
		printf '%s\tissuer_rfc2253\t%s\n' "$c" "$(x -issuer -nameopt RFC2253 | sed 's/^issuer=//')"
		printf '%s\tsubject_compat\t%s\n' "$c" "$(x -subject -nameopt compat | sed 's/^subject=//')"
		printf '%s\tissuer_compat\t%s\n' "$c" "$(x -issuer -nameopt compat | sed 's/^issuer=//')"
		printf '%s\tkey_bits\t%s\n' "$c" "$(x -text | sed -n 's/.*Public-Key: (\([0-9]*\) bit).*/\1/p' | head -1)"
		printf '%s\tski\t%s\n' "$c" "$(x -ext subjectKeyIdentifier 2>/dev/null | sed -n '2p' | tr -d ' ')"
		printf '%s\taki\t%s\n' "$c" "$(x -ext authorityKeyIdentifier 2>/dev/null | sed -n '2p' | tr -d ' ' | sed 's/^keyid://')"
		printf '%s\trfc9440_len\t%s\n' "$c" "$(openssl x509 -in "$c" -outform DER | openssl base64 -A | wc -c | awk '{print $1+2}')"
	done
	for k in root.key inter.key leaf.key leaf.sec1.key rsa2048.key rsa2048.pkcs1.key ed25519.key other.key lookalike.key; do
		printf '%s\tpubkey_sha256\t%s\n' "$k" "$(openssl pkey -in "$k" -pubout -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1)"
	done
} >expected.txt
echo "fixtures written to $here"
