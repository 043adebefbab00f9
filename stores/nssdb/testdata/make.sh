#!/bin/sh
# Builds the NSS database fixtures with the real NSS tools (certutil, pk12util)
# and openssl, and captures what `certutil -L` / `certutil -K` print for them,
# so the parity tests run without the tools. Run from anywhere:
#   sh stores/nssdb/testdata/make.sh
# Needs: certutil, pk12util (libnss3-tools), openssl, sqlite3.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
head -c 2048 /dev/urandom > noise

# --- basic: empty password, RSA and EC, with and without keys, many trusts ---
db=sql:"$work/basic"
mkdir basic
certutil -N -d "$db" --empty-password
certutil -S -d "$db" -n "Test CA" -s "CN=Test CA,O=Example" -x -t "CT,C,C" -k rsa -g 2048 -z noise -2 -v 120 <<'ANS' >/dev/null
y
0
y
ANS
certutil -S -d "$db" -n "Client RSA" -s "CN=client-rsa,O=Example" -c "Test CA" -t ",," -k rsa -g 2048 -z noise -v 12 -m 1001
certutil -S -d "$db" -n "Client EC" -s "CN=client-ec,O=Example" -c "Test CA" -t "u,u,u" -k ec -q nistp256 -z noise -v 12 -m 1002
certutil -S -d "$db" -n "EC CA" -s "CN=EC CA,O=Example" -x -t "c,," -k ec -q nistp384 -z noise -v 24 -m 1003
certutil -S -d "$db" -n "Client Delegated" -s "CN=client-t,O=Example" -c "Test CA" -t "T,," -k rsa -g 2048 -z noise -v 12 -m 1004

# certificates without keys, imported with explicit trust
for spec in "Ext P:P,,:rsa" "Ext C:C,,:rsa" "Ext p:p,p,p:ec" "Ext none:,,:rsa" "Ext CT:CT,,:ec" \
	"Ext email:,C,:rsa" "Ext code P:,,P:ec" "Ext all:CT,C,C:rsa"; do
	name=${spec%%:*}; rest=${spec#*:}; trust=${rest%:*}; alg=${rest##*:}
	file=$(echo "$name" | tr ' ' '_')
	if [ "$alg" = ec ]; then newkey="ec -pkeyopt ec_paramgen_curve:P-256"; else newkey="rsa:2048"; fi
	openssl req -x509 -newkey $newkey -nodes -keyout "$file.key" -out "$file.pem" \
		-subj "/CN=$name/O=Other" -days 3650 2>/dev/null
	certutil -A -d "$db" -n "$name" -t "$trust" -i "$file.pem"
done

# a PKCS#12 import (certificate and key, no trust object of its own)
openssl req -x509 -newkey rsa:2048 -nodes -keyout p12.key -out p12.pem -subj "/CN=P12 Imported/O=Other" -days 3650 2>/dev/null
openssl pkcs12 -export -inkey p12.key -in p12.pem -name "P12 Imported" -out p12.p12 -passout pass:secret
pk12util -i p12.p12 -d "$db" -W secret >/dev/null
openssl ecparam -name prime256v1 -genkey -noout -out p12ec.key
openssl req -x509 -key p12ec.key -out p12ec.pem -subj "/CN=P12 EC/O=Other" -days 3650 2>/dev/null
openssl pkcs12 -export -inkey p12ec.key -in p12ec.pem -name "P12 EC" -out p12ec.p12 -passout pass:secret
pk12util -i p12ec.p12 -d "$db" -W secret >/dev/null

# --- password: a password-protected key database ---
echo "fixture-password" > pw.txt
pdb=sql:"$work/password"
mkdir password
certutil -N -d "$pdb" -f pw.txt
certutil -S -d "$pdb" -f pw.txt -n "PW CA" -s "CN=PW CA,O=Example" -x -t "CT,C,C" -k rsa -g 2048 -z noise -v 120 -m 2001
certutil -S -d "$pdb" -f pw.txt -n "PW Client EC" -s "CN=pw-client,O=Example" -c "PW CA" -t ",," -k ec -q nistp256 -z noise -v 12 -m 2002
pk12util -i p12.p12 -d "$pdb" -W secret -k pw.txt >/dev/null
certutil -A -d "$pdb" -f pw.txt -n "PW Ext P" -t "P,," -i Ext_P.pem

# --- legacy: a DBM (cert8.db) directory, which the reader must refuse clearly ---
mkdir legacy
certutil -N -d dbm:"$work/legacy" --empty-password

# Capture what certutil prints. -L needs no password; -K on the password
# database does.
for d in basic password; do
	certutil -L -d sql:"$work/$d" > "$d.L.txt"
	certutil -K -d sql:"$work/$d" -f pw.txt > "$d.K.txt" 2>/dev/null || certutil -K -d sql:"$work/$d" > "$d.K.txt"
done

for d in basic password legacy; do
	rm -rf "${here:?}/$d"
	mkdir "$here/$d"
	cp "$work/$d"/*.db "$work/$d/pkcs11.txt" "$here/$d/" 2>/dev/null || cp "$work/$d"/*.db "$here/$d/"
done
cp basic.L.txt basic.K.txt password.L.txt password.K.txt "$here/"
echo "fixture-password" > "$here/password/password.txt"
echo "fixtures written to $here"
