package nssdb

import (
	"context"
	"crypto/x509"
	"database/sql"
	"encoding/asn1"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/certsight/certsight/internal/fsafe"
	"github.com/certsight/certsight/stores"
)

// certRow is one CKO_CERTIFICATE object of cert9.db, undecoded apart from
// the explicit-empty marker.
type certRow struct {
	id       int64
	tooLarge bool
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

// readCertDB reads the trust objects of cert9.db, then streams its
// certificate objects to fn (see streamCerts). errs are the errors so far;
// the result adds the database's own.
//
// The read reflects one committed state of the database (see openDB): a
// database read in place has its rows held until the file is known not to
// have changed meanwhile, and is read again (at last through a private
// copy) when it did; a copy is consistent by construction.
func (r *Reader) readCertDB(ctx context.Context, fsys fsafe.FS, path string, src stores.Source, keys *keyIndex,
	errs []error, fn func(stores.Entry) error) []error {
	fail := func(err error) []error {
		return append(errs, r.cfg.ItemError(src.Path, CertDBName, err))
	}
	for attempt := 0; ; attempt++ {
		snap, err := openDB(ctx, fsys, path, attempt == retries)
		if err != nil {
			return fail(err)
		}
		if snap.warn != nil {
			errs = fail(snap.warn)
		}
		trust, rows, rowErrs, err := r.fetchCerts(ctx, snap)
		torn := snap.changed(ctx)
		if torn && attempt < retries {
			snap.close()
			r.cfg.Log.Debug("database changed while it was read; reading again", "path", path, "attempt", attempt+1)
			continue
		}
		if torn {
			errs = fail(fmt.Errorf("%w: %s", ErrInconsistent, CertDBName))
		}
		if err != nil {
			snap.close()
			return fail(err)
		}
		for _, err := range trust.errors {
			errs = append(errs, r.cfg.ItemError(src.Path, CertDBName, err))
		}
		errs = append(errs, rowErrs...)
		out := r.streamCerts(ctx, rows, src, trust, keys, errs, fn)
		snap.close()
		return out
	}
}

// fetchCerts checks the schema and reads the trust objects, then returns
// the certificate rows: all of them, already read, for an in-place read
// (so the caller can check the file did not change before any is handed
// over), or a cursor over the copy.
func (r *Reader) fetchCerts(ctx context.Context, snap *snapshot) (*trustTable, rowSource, []error, error) {
	cols, err := columns(ctx, snap.db, "nssPublic")
	if err != nil {
		return nil, nil, nil, err
	}
	for _, c := range []string{"id", colClass, colValue} {
		if !cols[c] {
			return nil, nil, nil, fmt.Errorf("table nssPublic lacks column %s: not an NSS certificate database", c)
		}
	}
	// Trust first: it is small (issuer, serial and four numbers per
	// object) and every certificate row needs it.
	trust, err := readTrust(ctx, snap.db, cols)
	if err != nil {
		return nil, nil, nil, err
	}
	want := []string{colLabel, colValue, colCertType, colIssuer, colSerial, colID}
	q := "SELECT id, " + oversize(cols, want...) + ", " + selectList(cols, want...) +
		" FROM nssPublic WHERE " + colClass + " = ? ORDER BY id"
	rs, err := snap.db.QueryContext(ctx, q, ulongBytes(classCertificate))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("querying certificates: %w", err)
	}
	live := &cursor{rs: rs}
	if !snap.inPlace {
		return trust, live, nil, nil
	}
	defer rs.Close()
	var buf sliceRows
	for {
		row, ok, err := live.next()
		if err != nil {
			buf.errs = append(buf.errs, err)
		}
		if !ok {
			break
		}
		buf.rows = append(buf.rows, row)
	}
	return trust, &buf, nil, nil
}

// rowSource hands over certificate rows one at a time; a row with
// tooLarge set had a value over maxValue and holds only its id and label.
type rowSource interface {
	next() (certRow, bool, error)
}

type cursor struct {
	rs *sql.Rows
	n  int
}

func (c *cursor) next() (certRow, bool, error) {
	if c.n == maxRows {
		c.n++
		c.rs.Close()
		return certRow{}, false, fmt.Errorf("more than %d certificate rows; the rest were not read", maxRows)
	}
	if c.n > maxRows || !c.rs.Next() {
		if err := c.rs.Err(); err != nil {
			return certRow{}, false, fmt.Errorf("reading certificates: %w", err)
		}
		return certRow{}, false, nil
	}
	c.n++
	var cr certRow
	if err := c.rs.Scan(&cr.id, &cr.tooLarge, &cr.label, &cr.der, &cr.certType, &cr.issuer, &cr.serial, &cr.ckaID); err != nil {
		return certRow{}, false, fmt.Errorf("reading certificate row: %w", err)
	}
	return cr, true, nil
}

type sliceRows struct {
	rows []certRow
	errs []error
	i    int
}

func (s *sliceRows) next() (certRow, bool, error) {
	if s.i < len(s.rows) {
		r := s.rows[s.i]
		s.rows[s.i] = certRow{}
		s.i++
		return r, true, nil
	}
	if s.i == len(s.rows) && len(s.errs) > 0 {
		s.i++
		return certRow{}, false, errors.Join(s.errs...)
	}
	return certRow{}, false, nil
}

// batchSize bounds how many certificate rows are parsed together: enough to
// keep every CPU busy, few enough that a database of 10,000 certificates is
// never alive at once.
const batchSize = 256

// streamCerts parses the rows in batches on all CPUs and hands the entries
// to fn in row order.
func (r *Reader) streamCerts(ctx context.Context, src rowSource, s stores.Source,
	trust *trustTable, keys *keyIndex, errs []error, fn func(stores.Entry) error) []error {
	if c, ok := src.(*cursor); ok {
		defer c.rs.Close()
	}
	rowErr := func(err error) {
		errs = append(errs, r.cfg.ItemError(s.Path, CertDBName, err))
	}
	b := newBatcher()
	for {
		rows := b.rows[:0]
		done := false
		for len(rows) < batchSize {
			row, ok, err := src.next()
			if err != nil && ctx.Err() == nil {
				rowErr(err)
			}
			if !ok {
				done = true
				break
			}
			rows = append(rows, row)
		}
		b.rows = rows
		if len(rows) > 0 {
			var stop error
			errs, stop = r.emitBatch(ctx, b, s, trust, keys, errs, fn)
			if stop != nil {
				return append(errs, stop)
			}
		}
		if ctx.Err() != nil || done {
			break
		}
	}
	if err := ctx.Err(); err != nil {
		errs = append(errs, fmt.Errorf("reading %s: %w", s.Path, err))
	}
	return errs
}

// batcher holds one batch's rows and what they became, reused across
// batches.
type batcher struct {
	rows    []certRow
	entries []stores.Entry
	errs    []error
	skips   []bool
}

func newBatcher() *batcher {
	return &batcher{
		rows:    make([]certRow, 0, batchSize),
		entries: make([]stores.Entry, batchSize),
		errs:    make([]error, batchSize),
		skips:   make([]bool, batchSize),
	}
}

func readTrust(ctx context.Context, db *sql.DB, cols map[string]bool) (*trustTable, error) {
	t := &trustTable{objs: map[trustKey]trustObject{}}
	q := "SELECT id, " + selectList(cols, colClass, colIssuer, colSerial,
		colNSSServerAuth, colNSSClientAuth, colNSSCodeSigning, colNSSEmail, colNSSStepUp,
		colServerAuth, colClientAuth, colCodeSigning, colEmail) +
		" FROM nssPublic WHERE " + colClass + " IN (?, ?) LIMIT " + fmt.Sprint(maxRows+1)
	rs, err := db.QueryContext(ctx, q, ulongBytes(classNSSTrust), ulongBytes(classTrust))
	if err != nil {
		return nil, fmt.Errorf("querying trust: %w", err)
	}
	defer rs.Close()
	for n := 0; rs.Next(); n++ {
		if n == maxRows {
			t.errors = append(t.errors, fmt.Errorf("more than %d trust objects; the rest were not read", maxRows))
			break
		}
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
// bytes so that it is exactly what the certificate holds; encoding/asn1
// splits the elements (no DER length parser of our own here).
func serialDER(c *x509.Certificate) []byte {
	// TBSCertificate ::= SEQUENCE { [0] version OPTIONAL, serialNumber INTEGER, ... }
	var tbs asn1.RawValue
	if _, err := asn1.Unmarshal(c.RawTBSCertificate, &tbs); err != nil || !tbs.IsCompound {
		return nil
	}
	var el asn1.RawValue
	rest, err := asn1.Unmarshal(tbs.Bytes, &el)
	if err == nil && el.Class == asn1.ClassContextSpecific && el.Tag == 0 { // explicit version
		_, err = asn1.Unmarshal(rest, &el)
	}
	if err != nil || el.Class != asn1.ClassUniversal || el.Tag != asn1.TagInteger {
		return nil
	}
	return el.FullBytes
}

// buildEntry fills e from one row. A panic in a parser becomes the row's
// error: one bad certificate must not take the process down.
func buildEntry(e *stores.Entry, row certRow, src stores.Source, trust *trustTable, keys *keyIndex) (skip bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			skip, err = false, fmt.Errorf("internal error decoding row: %v", p)
		}
	}()
	if row.tooLarge {
		return false, fmt.Errorf("a value is larger than %d bytes; not read", maxValue)
	}
	d, skip, err := decodeCertRow(row)
	if err != nil || skip {
		return skip, err
	}
	*e = stores.NewEntry(d.cert, stores.KindNSSDB, src.Location, src.Path)
	e.Label = d.label
	e.Username = src.Username
	e.SID = src.SID
	var hasKey bool
	e.Key, e.KeyNote, hasKey = keys.state(d.cert, d.ckaID)
	var obj *trustObject
	if o, ok := trust.objs[d.key]; ok {
		obj = &o
	}
	e.Trust = trustString(obj, hasKey)
	return false, nil
}

// emitBatch parses b.rows on all CPUs and hands the entries to fn in row
// order, appending per-row errors to errs. stop is fn's error, or nil. When
// ctx ends mid-batch the rows not yet parsed are left out (the caller
// reports the context's error).
func (r *Reader) emitBatch(ctx context.Context, b *batcher, src stores.Source, trust *trustTable,
	keys *keyIndex, errs []error, fn func(stores.Entry) error) (_ []error, stop error) {
	rows := b.rows
	workers := min(runtime.GOMAXPROCS(0), 8, max(1, len(rows)/32))
	var wg sync.WaitGroup
	next := make(chan int, workers)
	for range workers {
		wg.Go(func() {
			for i := range next {
				b.skips[i], b.errs[i] = buildEntry(&b.entries[i], rows[i], src, trust, keys)
			}
		})
	}
	sent := 0
	for ; sent < len(rows); sent++ {
		if ctx.Err() != nil {
			break
		}
		next <- sent
	}
	close(next)
	wg.Wait()
	defer func() {
		// Nothing of this batch outlives it.
		clear(b.entries)
		clear(b.errs)
		clear(b.skips)
		clear(b.rows)
	}()
	for i := range sent {
		switch {
		case b.skips[i]:
			r.cfg.Log.Debug("skipping non-X.509 certificate object", "path", src.Path, "id", rows[i].id)
		case b.errs[i] != nil:
			errs = append(errs, r.cfg.ItemError(src.Path, fmt.Sprintf("certificate object %d (%q)", rows[i].id, string(blob(rows[i].label))), b.errs[i]))
		default:
			e := b.entries[i]
			b.entries[i] = stores.Entry{}
			if err := fn(e); err != nil {
				return errs, err
			}
		}
	}
	return errs, nil
}
