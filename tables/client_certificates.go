package tables

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"unique"

	"github.com/osquery/osquery-go/plugin/table"

	"github.com/certsight/certsight/internal/fsafe"
	"github.com/certsight/certsight/stores"
	"github.com/certsight/certsight/stores/nssdb"
)

// ClientCertificatesName is the table's name. It cannot be "certificates":
// osquery refuses an extension table that clashes with a built-in one.
const ClientCertificatesName = "client_certificates"

var knownKinds = []stores.Kind{stores.KindPEM, stores.KindNSSDB, stores.KindKeychain, stores.KindWinstore}

func clientCertificatesColumns() []table.ColumnDefinition {
	text := func(name, desc string, opts ...table.ColumnOpt) table.ColumnDefinition {
		return table.TextColumn(name, append(opts, table.ColumnDescription(desc))...)
	}
	integer := func(name, desc string) table.ColumnDefinition {
		return table.IntegerColumn(name, table.ColumnDescription(desc))
	}
	return []table.ColumnDefinition{
		text("store", "Store format: pem, nssdb, keychain or winstore; `store =` restricts which readers run",
			table.IndexColumn()),
		text("store_location", "system (machine default store), user (a user's default store) or path (named in the query)"),
		text("path", "File or directory read (PEM/DER file, NSS database directory, keychain file, store element); "+
			"for a directory named in the query, that directory. `path =`, IN and LIKE (as a glob) choose what "+
			"is read instead of the default stores",
			table.IndexColumn(), table.OptimizedColumn()),
		text("username", "Owner of a per-user store"),
		text("label", "NSS nickname, keychain print name or Windows friendly name"),
		text("common_name", "Subject common name"),
		text("subject", "Subject DN, RFC 2253 (CN first)"),
		text("issuer", "Issuer DN, RFC 2253 (CN first)"),
		text("serial", "Serial number, uppercase hex without separators"),
		table.BigIntColumn("not_valid_before", table.ColumnDescription("Start of validity, Unix seconds")),
		table.BigIntColumn("not_valid_after", table.ColumnDescription("End of validity, Unix seconds")),
		text("sha1", "SHA-1 of the DER, lowercase hex"),
		text("sha256", "SHA-256 of the DER, lowercase hex"),
		text("signing_algorithm", "Signature algorithm, e.g. SHA256-RSA, ECDSA-SHA256"),
		text("key_algorithm", "Public key algorithm: RSA, ECDSA, Ed25519, DSA"),
		text("key_strength", "RSA modulus bits, EC curve name, 256 for Ed25519"),
		text("key_usage", "Key usage names, comma-separated (digitalSignature,keyEncipherment,...)"),
		text("extended_key_usage", "Extended key usage names in certificate order, comma-separated (clientAuth,serverAuth,...); unknown as dotted OID"),
		text("subject_alt_names", "Subject alternative names, comma-separated, in the order DNS:, email:, IP:, URI:, then "+
			"otherNames: UPN:user@domain for a user principal name (1.3.6.1.4.1.311.20.2.3), othername:<oid>:<value> for others "+
			"(the value as text when it is a string, else hex DER)"),
		text("ms_sid", "Windows SID of Microsoft's strong certificate mapping: from extension 1.3.6.1.4.1.311.25.2, "+
			"else from a SAN URI tag:microsoft.com,2022-09-14:sid:<SID>; empty when neither"),
		text("template", "Microsoft certificate template: its name (extension 1.3.6.1.4.1.311.20.2), its OID and "+
			"version (1.3.6.1.4.1.311.21.7, \"<oid> v<major>.<minor>\"), or \"name (oid vM.m)\" when both are present"),
		text("subject_key_id", "Subject key identifier, uppercase hex"),
		text("authority_key_id", "Authority key identifier, uppercase hex"),
		integer("ca", "1 when basic constraints say CA"),
		integer("self_signed", "1 when the certificate's own key verifies its signature"),
		integer("has_private_key", "1 exactly when private_key is matched (kept for compatibility: a key link or an encrypted, unchecked key is 0)"),
		text("private_key", "What was established about the certificate's private key: matched (key material found, its public half "+
			"equals the certificate's; for an NSS database with the empty password, or a Windows key that DPAPI decrypts for the "+
			"running account, the private half was decrypted and checked too), "+
			"linked (the store links a key by identifier -- NSS CKA_ID, keychain label, Windows key-provider info whose key file was "+
			"not located -- but no key material was checked), locked (key material present but encrypted, under a password or "+
			"Windows DPAPI; its clear public half, where stored, matches; whether its private half does is unknown), "+
			"mismatch (the key found belongs to another public key), absent (no key), unknown (the key store could not be read; "+
			"the reason is logged)"),
		text("trust", "NSS trust flags as certutil -L prints them (CTu,Cu,Cu); empty elsewhere"),
	}
}

// ClientCertificates is the client_certificates table: one row per
// certificate found in the stores read.
func ClientCertificates(d Deps) Table {
	log := d.logger(ClientCertificatesName)
	return Table{
		Name: ClientCertificatesName,
		Description: "Certificates held by this machine's certificate stores (PEM/DER files, NSS databases, " +
			"keychains, Windows stores), with the facts a client-certificate check needs: EKU, SANs, " +
			"SHA-256 and whether the private key is present.",
		Notes: "Without a path constraint the platform's default stores are read. SQLite re-filters every row, " +
			"so any WHERE clause is correct; constraints on path and store only decide what is read.",
		Examples: []string{
			"SELECT common_name, issuer, extended_key_usage, private_key FROM client_certificates",
			"SELECT * FROM client_certificates WHERE path = '/etc/pki/nssdb'",
			"SELECT path, common_name FROM client_certificates WHERE path LIKE '/home/%/.pki/nssdb'",
			"SELECT common_name, not_valid_after FROM client_certificates WHERE store = 'nssdb' " +
				"AND extended_key_usage LIKE '%clientAuth%' AND has_private_key = 1",
		},
		Columns: clientCertificatesColumns(),
		Timeout: d.Timeout,
		Generate: func(ctx context.Context, qc table.QueryContext) Rows {
			return func(yield func(map[string]string, error) bool) {
				clientCertificates(ctx, d.Scanner, log, qc, yield)
			}
		},
	}
}

// clientCertificates reads the stores the query names and yields a row
// per certificate as soon as it is read; the entry, with its parsed
// certificate, is dropped at once (with thousands of certificates the x509
// structures would dominate memory). Per-item errors are logged.
func clientCertificates(ctx context.Context, sc Scanner, log *slog.Logger, qc table.QueryContext,
	yield func(map[string]string, error) bool) {
	if sc == nil {
		yield(nil, errors.New("no store scanner configured"))
		return
	}
	kinds, ok := storeKinds(qc)
	if !ok {
		return // only unknown store names asked for: nothing can match
	}
	paths := readablePaths(ctx, log, qc)
	if len(paths) == 0 && len(qc.Constraints["path"].Constraints) > 0 && len(Patterns(qc, "path")) > 0 {
		return // every path named was a literal glob: nothing SQLite would keep
	}
	var seq stores.Seq
	if len(paths) > 0 {
		seq = sc.Paths(ctx, paths, kinds...)
	} else {
		seq = sc.Defaults(ctx, kinds...)
	}
	var warn warnings
	defer warn.flush(ctx, log)
	for e, err := range seq {
		if err != nil {
			warn.add(ctx, log, err)
			continue
		}
		row := clientCertificateRow(&e)
		if len(paths) > 0 {
			row["path"] = namedPath(e.Path, paths)
		}
		if !yield(row, nil) {
			return
		}
	}
}

// readablePaths are the path constraints worth reading. `path = '/d/*.pem'`
// compares literally: SQLite keeps only rows whose path is that very string,
// so the files a glob would match are not read (they would be dropped after
// the work), unless a file of that literal name exists; the log says to use
// LIKE or GLOB.
func readablePaths(ctx context.Context, log *slog.Logger, qc table.QueryContext) []string {
	var out []string
	for _, c := range qc.Constraints["path"].Constraints {
		if c.Operator == table.OperatorEquals && fsafe.HasMeta(c.Expression) {
			if _, err := os.Lstat(c.Expression); err != nil {
				log.WarnContext(ctx, "path = compares literally and no file has this name; use LIKE or GLOB to match files",
					"path", c.Expression)
				continue
			}
		}
		if p, ok := pattern(c); ok {
			out = appendUnique(out, p)
		}
	}
	return out
}

// namedPath returns the path as the query named it, so that SQLite's
// re-check of `path = …` keeps the row: the pattern itself when it names the
// entry's store (also as "sql:DIR" or DIR/cert9.db for an NSS database),
// else the nearest directory of the entry that a pattern names or matches
// (a certificate read from a file inside a named directory reports that
// directory), else the entry's own path.
func namedPath(entryPath string, patterns []string) string {
	return namedPathStyle(entryPath, patterns, filepath.Separator == '\\')
}

// pathStyle compares paths the way the OS does: on Windows `\` and `/` are
// both separators and case does not matter.
type pathStyle struct{ windows bool }

// norm is the form paths are compared in: slash-separated, lower case on
// Windows; the file system's own form elsewhere.
func (s pathStyle) norm(p string) string {
	if s.windows {
		return strings.ToLower(strings.ReplaceAll(p, `\`, "/"))
	}
	return p
}

func (s pathStyle) clean(p string) string {
	if s.windows {
		return path.Clean(s.norm(p))
	}
	return filepath.Clean(p)
}

func (s pathStyle) dir(p string) string {
	if s.windows {
		return path.Dir(p)
	}
	return filepath.Dir(p)
}

func (s pathStyle) match(pattern, p string) bool {
	var ok bool
	var err error
	if s.windows {
		ok, err = path.Match(s.norm(pattern), p)
	} else {
		ok, err = filepath.Match(pattern, p)
	}
	return err == nil && ok
}

// spell writes entry (a path of the entry, or one of its directories) with
// the separators of pattern, so that SQLite's re-check of LIKE finds it:
// Windows users write C:\Users\… and C:/Users/… (and mixes of both, as when
// a tool appends "/x" to a Windows path), readers report `\`. A pattern
// that matched has as many separators as entry (a glob's * stays inside one
// element), so each of entry's separators takes the pattern's at the same
// place; otherwise the pattern's only kind, else `\`.
func (s pathStyle) spell(entry, pattern string) string {
	if !s.windows {
		return entry
	}
	isSep := func(r rune) bool { return r == '\\' || r == '/' }
	var seps []rune
	for _, r := range pattern {
		if isSep(r) {
			seps = append(seps, r)
		}
	}
	if strings.Count(entry, `\`)+strings.Count(entry, "/") == len(seps) {
		b := []rune(entry)
		i := 0
		for j, r := range b {
			if isSep(r) {
				b[j] = seps[i]
				i++
			}
		}
		return string(b)
	}
	if strings.Contains(pattern, "/") && !strings.Contains(pattern, `\`) {
		return strings.ReplaceAll(entry, `\`, "/")
	}
	return strings.ReplaceAll(entry, "/", `\`)
}

// prefix returns the directory of entry whose clean form is cleanDir, as
// entry spells it. Readers report clean paths, whose clean form differs
// only in separators and case, so the cut falls at the same byte; for
// anything else cleanDir itself is returned.
func (s pathStyle) prefix(entry, cleanDir string) string {
	if s.windows && len(cleanDir) <= len(entry) && s.norm(entry[:len(cleanDir)]) == cleanDir {
		return entry[:len(cleanDir)]
	}
	return cleanDir
}

func namedPathStyle(entryPath string, patterns []string, windows bool) string {
	s := pathStyle{windows}
	clean := s.clean(entryPath)
	for _, pat := range patterns {
		if s.namesStore(pat, clean) {
			return pat
		}
	}
	for p := clean; ; {
		for _, pat := range patterns {
			if s.clean(pat) == p {
				return pat // as the query spelled it, so `path = '/dir/'` keeps the row
			}
			if s.match(pat, p) {
				if p == clean {
					return s.spell(entryPath, pat)
				}
				return s.spell(s.prefix(entryPath, p), pat)
			}
		}
		parent := s.dir(p)
		if parent == p {
			return entryPath
		}
		p = parent
	}
}

// namesStore reports whether pattern names the store at path (in the
// style's clean form): the path itself, an NSS "sql:"/"dbm:" form of it,
// or its cert9.db / cert8.db file.
func (s pathStyle) namesStore(pattern, store string) bool {
	if !s.windows {
		return nssdb.NamesDatabase(pattern, store)
	}
	for _, prefix := range []string{"sql:", "dbm:"} {
		pattern = strings.TrimPrefix(pattern, prefix)
	}
	p := s.clean(pattern)
	if p == store {
		return true
	}
	base := p[strings.LastIndexByte(p, s.sep())+1:]
	return (base == "cert9.db" || base == "cert8.db") && s.dir(p) == store
}

func (s pathStyle) sep() byte {
	if s.windows {
		return '/'
	}
	return filepath.Separator
}

// storeKinds returns the kinds named by `store =` constraints; ok is false
// when some were named but none is a known kind.
func storeKinds(qc table.QueryContext) (kinds []stores.Kind, ok bool) {
	names := Equals(qc, "store")
	if len(names) == 0 {
		return nil, true
	}
	for _, n := range names {
		for _, k := range knownKinds {
			if string(k) == n {
				kinds = append(kinds, k)
			}
		}
	}
	return kinds, len(kinds) > 0
}

func clientCertificateRow(e *stores.Entry) map[string]string {
	i := &e.Info
	row := map[string]string{ // a literal of 28 keys is allocated at its final size
		"store":              string(e.Store),
		"store_location":     string(e.Location),
		"path":               intern(e.Path),
		"username":           e.Username,
		"label":              e.Label,
		"common_name":        i.CommonName,
		"subject":            i.Subject,
		"issuer":             intern(i.Issuer),
		"serial":             i.Serial,
		"not_valid_before":   intern(strconv.FormatInt(i.NotBefore.Unix(), 10)),
		"not_valid_after":    intern(strconv.FormatInt(i.NotAfter.Unix(), 10)),
		"sha1":               i.SHA1,
		"sha256":             i.SHA256,
		"signing_algorithm":  intern(i.SignatureAlgorithm),
		"key_algorithm":      intern(i.KeyAlgorithm),
		"key_strength":       intern(i.KeyStrength),
		"key_usage":          intern(strings.Join(i.KeyUsage, ",")),
		"extended_key_usage": intern(strings.Join(i.ExtKeyUsage, ",")),
		"subject_alt_names":  strings.Join(i.SubjectAltNames(), ","),
		"ms_sid":             i.MSSID,
		"template":           i.Template,
		"subject_key_id":     i.SubjectKeyID,
		"authority_key_id":   intern(i.AuthorityKeyID),
		"ca":                 boolInt(i.IsCA),
		"self_signed":        boolInt(i.SelfSigned),
		"has_private_key":    boolInt(e.Key.HasPrivateKey()),
		"private_key":        e.Key.String(),
		"trust":              intern(e.Trust),
	}
	if e.Key == stores.KeyUnknown {
		delete(row, "has_private_key") // NULL: the key store could not be read
	}
	return row
}

func boolInt(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// Warnings per query are capped in count and length: a store of junk (a
// 4 MiB PEM of bad blocks, a crafted keychain) must not write megabytes of
// log on every query.
const (
	maxWarnings    = 100
	maxWarningSize = 1024
)

// warnings logs a query's per-item errors up to maxWarnings, each cut to
// maxWarningSize bytes, and then how many more there were.
type warnings struct{ n int }

func (w *warnings) add(ctx context.Context, log *slog.Logger, err error) {
	w.n++
	if w.n > maxWarnings {
		return
	}
	msg := err.Error()
	if len(msg) > maxWarningSize {
		msg = strings.ToValidUTF8(msg[:maxWarningSize], "") + fmt.Sprintf("… (%d bytes)", len(msg))
	}
	log.WarnContext(ctx, "skipped unreadable item", "err", msg)
}

func (w *warnings) flush(ctx context.Context, log *slog.Logger) {
	if w.n > maxWarnings {
		log.WarnContext(ctx, "more unreadable items not logged", "count", w.n-maxWarnings)
	}
}

// intern returns the one shared copy of a value that many rows repeat
// (issuer, algorithms, usages, validity, path): osquery needs all rows of a
// query at once, and 10,000 copies of the same issuer name add up.
func intern(s string) string { return unique.Make(s).Value() }
