#!/bin/sh
# Builds the Microsoft name fixtures with openssl: a SAN otherName UPN, an
# unknown otherName, the strong-mapping SID extension (1.3.6.1.4.1.311.25.2),
# a SID SAN URI, and the template extensions (1.3.6.1.4.1.311.20.2 name,
# 1.3.6.1.4.1.311.21.7 OID and version). Run from anywhere:
#   sh cert/testdata/microsoft/make.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
	-subj "/CN=Corp Issuing CA/DC=corp/DC=example" -days 3650 2>/dev/null

cat > ext.cnf <<'CNF'
[upn_sid]
basicConstraints = CA:FALSE
keyUsage = digitalSignature
extendedKeyUsage = clientAuth, 1.3.6.1.4.1.311.20.2.2
subjectAltName = otherName:1.3.6.1.4.1.311.20.2.3;UTF8:alice@corp.example, email:alice@corp.example, otherName:1.2.3.4;UTF8:hello
1.3.6.1.4.1.311.25.2 = ASN1:SEQUENCE:sid_ext
1.3.6.1.4.1.311.20.2 = ASN1:BMPSTRING:SmartcardUser
1.3.6.1.4.1.311.21.7 = ASN1:SEQUENCE:template

[sid_ext]
sid = IMPLICIT:0,SEQUENCE:sid_othername

[sid_othername]
type = OID:1.3.6.1.4.1.311.25.2.1
value = EXPLICIT:0,OCTETSTRING:S-1-5-21-3623811015-3361044348-30300820-1013

[template]
id = OID:1.3.6.1.4.1.311.21.8.8147228.1416744.14353476.6224716.12474437.60.12409617.7291041
major = INT:100
minor = INT:7

[sid_uri]
basicConstraints = CA:FALSE
extendedKeyUsage = clientAuth
subjectAltName = @sid_uri_san
1.3.6.1.4.1.311.21.7 = ASN1:SEQUENCE:template_only

[sid_uri_san]
DNS.1 = ws-0042.corp.example
URI.1 = tag:microsoft.com,2022-09-14:sid:S-1-5-21-3623811015-3361044348-30300820-1104

[template_only]
id = OID:1.3.6.1.4.1.311.21.8.8147228.1416744.14353476.6224716.12474437.60.1.2
CNF

for name in upn_sid sid_uri; do
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$name.key" -out "$name.csr" \
		-subj "/CN=$name" 2>/dev/null
	openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -set_serial 0x$(openssl rand -hex 8) \
		-days 3650 -extfile ext.cnf -extensions "$name" -out "$name.pem" 2>/dev/null
	openssl x509 -in "$name.pem" -noout -text > "$name.txt"
done
cp upn_sid.pem sid_uri.pem upn_sid.txt sid_uri.txt "$here/"
echo "fixtures written to $here"
