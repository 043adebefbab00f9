package tables

// All returns every table certsight serves, in both modes. A new table is
// added here with one line (see doc.go).
func All(d Deps) []Table {
	return []Table{
		ClientCertificates(d),
		CertPosture(d),
		MTLSCertificates(d),
	}
}
