package nssdb

import (
	"context"
	"crypto/x509"
	"database/sql"
	"fmt"
	"runtime"
	"sync"

	"github.com/certsight/certsight/stores"
)

// certRow is one CKO_CERTIFICATE object of cert9.db, undecoded apart from
// the explicit-empty marker.
type certRow struct {
	id       int64
	label    []byte
	der      []byte
	certType []byte
	issuer   []byte
	serial   []byte
	ckaID    []byte
}

// trustKey identifies the certificate a trust object belongs to: NSS
// matches trust to certificates by issuer and serial number (a81, a82).
type trustKey struct{ issuer, serial string }

// trustTable holds the trust objects of a database by certificate, and the
// rows that could not be decoded.
type trustTable struct {
	objs   map[trustKey]trustObject
	errors []error
}

// put records obj, preferring a PKCS#11 3.2 CKO_TRUST object over a legacy
// CKO_NSS_TRUST one for the same certificate, as NSS ≥ 3.114 does.
func (t *trustTable) put(k trustKey, obj trustObject) {
	if old, ok := t.objs[k]; ok && old.class == classTrust && obj.class != classTrust {
		return
	}
	t.objs[k] = obj
}

// readCertDB reads the certificate and trust objects of cert9.db.
func readCertDB(ctx context.Context, path string) ([]certRow, *trustTable, error) {
	db, err := openReadOnly(path)
	if err != nil {
		return nil, nil, err
	}
	defer db.Close()
	cols, err := columns(ctx, db, "nssPublic")
	if err != nil {
		return nil, nil, err
	}
	for _, c := range []string{"id", colClass, colValue} {
		if !cols[c] {
			return nil, nil, fmt.Errorf("table nssPublic lacks column %s: not an NSS certificate database", c)
		}
	}
	certs, err := readCertRows(ctx, db, cols)
	if err != nil {
		return nil, nil, err
	}
	trust, err := readTrust(ctx, db, cols)
	if err != nil {
		return nil, nil, err
	}
	return certs, trust, nil
}

func readCertRows(ctx context.Context, db *sql.DB, cols map[string]bool) ([]certRow, error) {
	q := "SELECT id, " + selectList(cols, colLabel, colValue, colCertType, colIssuer, colSerial, colID) +
		" FROM nssPublic WHERE " + colClass + " = ? ORDER BY id"
	rs, err := db.QueryContext(ctx, q, ulongBytes(classCertificate))
	if err != nil {
		return nil, fmt.Errorf("querying certificates: %w", err)
	}
	defer rs.Close()
	var out []certRow
	for rs.Next() {
		var r certRow
		if err := rs.Scan(&r.id, &r.label, &r.der, &r.certType, &r.issuer, &r.serial, &r.ckaID); err != nil {
			return out, fmt.Errorf("reading certificate row: %w", err)
		}
		out = append(out, r)
	}
	if err := rs.Err(); err != nil {
		return out, fmt.Errorf("reading certificates: %w", err)
	}
	return out, nil
}

func readTrust(ctx context.Context, db *sql.DB, cols map[string]bool) (*trustTable, error) {
	t := &trustTable{objs: map[trustKey]trustObject{}}
	q := "SELECT id, " + colClass + ", " + selectList(cols, colIssuer, colSerial,
		colNSSServerAuth, colNSSClientAuth, colNSSCodeSigning, colNSSEmail, colNSSStepUp,
		colServerAuth, colClientAuth, colCodeSigning, colEmail) +
		" FROM nssPublic WHERE " + colClass + " IN (?, ?)"
	rs, err := db.QueryContext(ctx, q, ulongBytes(classNSSTrust), ulongBytes(classTrust))
	if err != nil {
		return nil, fmt.Errorf("querying trust: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		var (
			id                    int64
			class, issuer, serial sql.RawBytes
			nss                   [5]sql.RawBytes
			pkcs                  [4]sql.RawBytes
		)
		if err := rs.Scan(&id, &class, &issuer, &serial, &nss[0], &nss[1], &nss[2], &nss[3], &nss[4],
			&pkcs[0], &pkcs[1], &pkcs[2], &pkcs[3]); err != nil {
			return nil, fmt.Errorf("reading trust row: %w", err)
		}
		raw := rawTrust{class: class, issuer: issuer, serial: serial, stepUp: nss[4]}
		if c, _, _ := decodeULong(class); c == classTrust {
			raw.values = [4][]byte{pkcs[0], pkcs[1], pkcs[2], pkcs[3]}
		} else {
			raw.values = [4][]byte{nss[0], nss[1], nss[2], nss[3]}
		}
		k, obj, err := decodeTrust(raw)
		if err != nil {
			t.errors = append(t.errors, fmt.Errorf("trust object %d: %w", id, err))
			continue
		}
		t.put(k, obj)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("reading trust: %w", err)
	}
	return t, nil
}

// rawTrust is a trust object's stored attributes; values are server auth,
// client auth, code signing and email protection, of whichever class.
type rawTrust struct {
	class, issuer, serial, stepUp []byte
	values                        [4][]byte
}

// decodeTrust decodes one trust object. Absent trust values count as
// unknown, as they do in NSS.
func decodeTrust(r rawTrust) (trustKey, trustObject, error) {
	class, _, err := decodeULong(r.class)
	if err != nil {
		return trustKey{}, trustObject{}, fmt.Errorf("class: %w", err)
	}
	if class != classTrust && class != classNSSTrust {
		return trustKey{}, trustObject{}, fmt.Errorf("class %#x is not a trust class", class)
	}
	issuer, serial := blob(r.issuer), blob(r.serial)
	if len(issuer) == 0 || len(serial) == 0 {
		return trustKey{}, trustObject{}, fmt.Errorf("no issuer or serial number")
	}
	obj := trustObject{class: class}
	dst := [4]*uint32{&obj.serverAuth, &obj.clientAuth, &obj.codeSign, &obj.emailP}
	names := [4]string{"server auth", "client auth", "code signing", "email protection"}
	for i, v := range r.values {
		n, _, err := decodeULong(v)
		if err != nil {
			return trustKey{}, trustObject{}, fmt.Errorf("%s trust: %w", names[i], err)
		}
		*dst[i] = n
	}
	if class == classNSSTrust {
		if obj.stepUp, err = decodeBool(r.stepUp); err != nil {
			return trustKey{}, trustObject{}, fmt.Errorf("step-up: %w", err)
		}
	}
	return trustKey{issuer: string(issuer), serial: string(serial)}, obj, nil
}

// decodedCert is a certificate row turned into what an entry needs.
type decodedCert struct {
	label string
	cert  *x509.Certificate
	key   trustKey
	ckaID []byte
}

// decodeCertRow checks and parses one certificate row. A row of another
// certificate type (e.g. an X.509 attribute certificate) reports skip.
func decodeCertRow(r certRow) (d decodedCert, skip bool, err error) {
	if t, absent, err := decodeULong(r.certType); err != nil {
		return d, false, fmt.Errorf("certificate type: %w", err)
	} else if !absent && t != certTypeX509 {
		return d, true, nil
	}
	der := blob(r.der)
	if len(der) == 0 {
		return d, false, fmt.Errorf("no certificate value")
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return d, false, fmt.Errorf("parsing certificate: %w", err)
	}
	d = decodedCert{label: string(blob(r.label)), cert: c, ckaID: blob(r.ckaID)}
	// Trust is keyed by the stored issuer and serial; fall back to the
	// certificate's own when a writer left them out.
	issuer, serial := blob(r.issuer), blob(r.serial)
	if len(issuer) == 0 {
		issuer = c.RawIssuer
	}
	if len(serial) == 0 {
		serial = serialDER(c)
	}
	d.key = trustKey{issuer: string(issuer), serial: string(serial)}
	return d, false, nil
}

// serialDER returns the serial number's DER INTEGER (tag and length
// included), as NSS stores CKA_SERIAL_NUMBER. It is taken from the TBS
// bytes so that it is exactly what the certificate holds.
func serialDER(c *x509.Certificate) []byte {
	tbs := c.RawTBSCertificate
	// TBSCertificate ::= SEQUENCE { [0] version OPTIONAL, serialNumber INTEGER, ... }
	_, body, ok := derElement(tbs)
	if !ok {
		return nil
	}
	el, _, ok := derElement(body)
	if ok && el[0] == 0xa0 { // explicit version
		el, _, ok = derElement(body[len(el):])
	}
	if !ok || len(el) == 0 || el[0] != 0x02 {
		return nil
	}
	return el
}

// derElement splits the first DER element (header included) off b and
// returns it with its content; ok is false when b is malformed.
func derElement(b []byte) (el, content []byte, ok bool) {
	if len(b) < 2 {
		return nil, nil, false
	}
	hdr, n := 2, int(b[1])
	if n&0x80 != 0 {
		k := n & 0x7f
		if k == 0 || k > 3 || len(b) < 2+k {
			return nil, nil, false
		}
		n = 0
		for _, x := range b[2 : 2+k] {
			n = n<<8 | int(x)
		}
		hdr += k
	}
	if len(b)-hdr < n {
		return nil, nil, false
	}
	return b[:hdr+n], b[hdr : hdr+n], true
}

// buildEntry fills e from one row. A panic in a parser becomes the row's
// error: one bad certificate must not take the process down.
func buildEntry(e *stores.Entry, row certRow, src stores.Source, trust *trustTable, keyIDs map[string]bool) (skip bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			skip, err = false, fmt.Errorf("internal error decoding row: %v", p)
		}
	}()
	d, skip, err := decodeCertRow(row)
	if err != nil || skip {
		return skip, err
	}
	*e = stores.NewEntry(d.cert, stores.KindNSSDB, src.Location, src.Path)
	e.Label = d.label
	e.Username = src.Username
	e.SID = src.SID
	hasKey := len(d.ckaID) > 0 && keyIDs[string(d.ckaID)]
	if hasKey {
		e.Key = stores.KeyPresent
		e.KeyNote = keyNote
	}
	var obj *trustObject
	if o, ok := trust.objs[d.key]; ok {
		obj = &o
	}
	e.Trust = trustString(obj, hasKey)
	return false, nil
}

// keyNote explains KeyPresent for NSS entries.
const keyNote = "private key in " + KeyDBName + " (linked by CKA_ID; encrypted, not read)"

// buildEntries parses the certificate rows on all CPUs and appends one
// entry per certificate to res, in row order.
func (r *Reader) buildEntries(ctx context.Context, src stores.Source, rows []certRow, trust *trustTable, keyIDs map[string]bool, res *stores.Result) {
	for _, err := range trust.errors {
		res.Errors = append(res.Errors, &stores.ItemError{Store: stores.KindNSSDB, Path: src.Path, Item: CertDBName, Err: err})
	}
	// Entries are built in place (no second copy of 10,000 entries) and
	// compacted afterwards, keeping row order.
	entries := make([]stores.Entry, len(rows))
	errs := make([]error, len(rows))
	skips := make([]bool, len(rows))
	workers := min(runtime.GOMAXPROCS(0), 8, max(1, len(rows)/64))
	var wg sync.WaitGroup
	next := make(chan int, workers)
	for range workers {
		wg.Go(func() {
			for i := range next {
				skips[i], errs[i] = buildEntry(&entries[i], rows[i], src, trust, keyIDs)
			}
		})
	}
	var ctxErr error
	sent := 0
	for ; sent < len(rows); sent++ {
		if ctxErr = ctx.Err(); ctxErr != nil {
			break
		}
		next <- sent
	}
	close(next)
	wg.Wait()
	out := entries[:0]
	for i := range sent {
		switch {
		case skips[i]:
			r.log.Debug("skipping non-X.509 certificate object", "path", src.Path, "id", rows[i].id)
		case errs[i] != nil:
			res.Errors = append(res.Errors, &stores.ItemError{Store: stores.KindNSSDB, Path: src.Path,
				Item: fmt.Sprintf("certificate object %d (%q)", rows[i].id, string(blob(rows[i].label))), Err: errs[i]})
		default:
			out = append(out, entries[i])
		}
	}
	clear(entries[len(out):])
	if res.Entries == nil {
		res.Entries = out
	} else {
		res.Entries = append(res.Entries, out...)
	}
	if ctxErr != nil {
		res.Errors = append(res.Errors, fmt.Errorf("reading %s: %w", src.Path, ctxErr))
	}
}
