package tables

import (
	"context"
	"fmt"

	"github.com/osquery/osquery-go/plugin/table"

	"github.com/certsight/certsight/posture"
)

// MTLSCertificatesName is the CA registry table's name.
const MTLSCertificatesName = "mtls_certificates"

func mtlsCertificatesColumns() []table.ColumnDefinition {
	text := func(name, desc string, opts ...table.ColumnOpt) table.ColumnDefinition {
		return table.TextColumn(name, append(opts, table.ColumnDescription(desc))...)
	}
	return []table.ColumnDefinition{
		text("id", "Entry id (UUID); derived from the certificate's SHA-256 when the config has none"),
		text("name", "Entry name"),
		table.IntegerColumn("ca", table.ColumnDescription("1 when the entry is marked as a CA")),
		text("issuer", "Issuer DN of the (first) certificate, RFC 2253, e.g. O=Example Inc.,L=California,ST=San Francisco,C=US"),
		text("signature", "Signature algorithm of the (first) certificate, e.g. SHA256WithRSA, ECDSAWithSHA256"),
		text("serial_number", "Serial number of the (first) certificate, decimal"),
		text("expires_on", "notAfter of the (first) certificate, RFC 3339 UTC"),
		text("uploaded_on", "When the entry was added (--add-ca), RFC 3339 UTC with microseconds"),
		text("type", "Always custom"),
		text("certificates", "The PEM text of the entry", table.HiddenColumn()),
		text("reason", "Empty when the entry is valid; otherwise what is wrong with it (or with the config file)"),
	}
}

// MTLSCertificates is the mtls_certificates table: the CA registry of the
// posture config, with the fields Cloudflare's upload API returns.
func MTLSCertificates(d Deps) Table {
	src := posture.NewSource(d.ConfigPath)
	return Table{
		Name: MTLSCertificatesName,
		Description: "The CAs registered in the posture config (mtls_certificates), with the fields Cloudflare's " +
			"mtls_certificates upload API returns.",
		Notes: "A missing config lists nothing; a broken config gives one row with the problems in reason. " +
			"Add a CA with `certsight.ext --add-ca ca.pem --name NAME`.",
		Examples: []string{
			"SELECT id, name, issuer, expires_on FROM mtls_certificates",
			"SELECT * FROM mtls_certificates WHERE reason != ''",
		},
		Columns: mtlsCertificatesColumns(),
		Timeout: d.Timeout,
		Generate: Collected(func(context.Context, table.QueryContext) ([]map[string]string, error) {
			snap := src.Load()
			rows := []map[string]string{}
			switch {
			case snap.Missing:
				return rows, nil
			case snap.Err != nil:
				return append(rows, map[string]string{"reason": fmt.Sprintf("config %s: %v", snap.Path, snap.Err)}), nil
			}
			for i, ca := range snap.Policy.CAs {
				r := ca.Response()
				rows = append(rows, map[string]string{
					"id": r.ID, "name": r.Name, "ca": boolInt(r.CA), "issuer": r.Issuer, "signature": r.Signature,
					"serial_number": r.SerialNumber, "expires_on": r.ExpiresOn, "uploaded_on": r.UploadedOn,
					"type": r.Type, "certificates": r.Certificates,
					"reason": snap.Policy.Problems.Under(fmt.Sprintf("mtls_certificates[%d]", i)).Error(),
				})
			}
			return rows, nil
		}),
	}
}
