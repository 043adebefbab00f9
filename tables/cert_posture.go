package tables

import (
	"context"
	"fmt"
	"strconv"

	"github.com/osquery/osquery-go/plugin/table"

	"github.com/certsight/certsight/posture"
	"github.com/certsight/certsight/posture/identity"
)

// CertPostureName is the posture table's name.
const CertPostureName = "cert_posture"

// maxInlineRules bounds the ad-hoc rules one query may state (the product
// of the IN lists of the input columns).
const maxInlineRules = 64

// Input columns state an ad-hoc rule. They are hidden (not in SELECT *)
// and echo the query's values, so SQLite's re-filtering keeps the row.
var postureInputs = []string{"ca_path", "cn", "eku", "check_private_key", "search_path"}

func certPostureColumns() []table.ColumnDefinition {
	text := func(name, desc string, opts ...table.ColumnOpt) table.ColumnDefinition {
		return table.TextColumn(name, append(opts, table.ColumnDescription(desc))...)
	}
	integer := func(name, desc string, opts ...table.ColumnOpt) table.ColumnDefinition {
		return table.IntegerColumn(name, append(opts, table.ColumnDescription(desc))...)
	}
	input := []table.ColumnOpt{table.AdditionalColumn(), table.HiddenColumn()}
	return []table.ColumnDefinition{
		text("rule", "Rule name from the config; \"inline\" for a rule stated in the query; empty on the row that reports a broken config"),
		text("certificate_id", "id of the mtls_certificates entry the rule references"),
		text("operating_system", "The rule's operating_system (windows, mac, linux; empty: any)"),
		integer("passed", "1 when one certificate satisfies the rule, 0 when none does; NULL when the rule was not evaluated (meant for another OS, or no config)"),
		text("reason", "Empty when passed; otherwise what failed, for the nearest candidates, in words"),
		text("expected_cn", "The rule's cn after expanding ${hostname} and ${serial_number}"),
		text("matched_sha256", "SHA-256 of the certificate that passed"),
		text("matched_path", "File or store of the certificate that passed"),
		text("matched_store", "Store format of the certificate that passed (pem, nssdb, keychain, winstore)"),
		integer("candidates", "Certificates examined"),
		text("ca_path", "Input: PEM or DER file of the CA that must directly issue the certificate; states an ad-hoc rule instead of the config's", input...),
		text("cn", "Input: expected common name (${hostname}, ${serial_number} expanded); empty: not checked", input...),
		text("eku", "Input: required extended key usages, comma-separated (clientAuth, emailProtection, dotted OIDs)", input...),
		integer("check_private_key", "Input: 1 to require the certificate's own private key (default 0)", input...),
		text("search_path", "Input: file, directory or glob (LIKE) to search; default: the system and user stores", input...),
	}
}

// CertPosture is the cert_posture table: one row per posture rule of the
// config (Deps.ConfigPath), evaluated at query time; or, when the query sets
// ca_path, one row per ad-hoc rule stated through the input columns.
func CertPosture(d Deps) Table {
	dev := d.Identity
	if dev == nil {
		dev = identity.System()
	}
	log := d.logger(CertPostureName)
	src := posture.NewSource(d.ConfigPath)
	return Table{
		Name: CertPostureName,
		Description: "Client-certificate posture: for each rule (Cloudflare client_certificate_v2 shape), whether a " +
			"certificate directly issued by the rule's CA, with the expected CN, EKUs and private key, is on this device.",
		Notes: "Rules come from the posture config (--config, CERTSIGHT_CONFIG, default " + posture.DefaultConfigPath() +
			"), re-read when it changes. A broken config gives one row with an empty rule and the problems in reason; " +
			"a missing config gives one row with passed NULL. Setting ca_path evaluates an ad-hoc rule instead.",
		Examples: []string{
			"SELECT rule, passed, reason FROM cert_posture",
			"SELECT * FROM cert_posture WHERE passed = 0",
			"SELECT * FROM cert_posture WHERE ca_path = '/etc/corp/ca.pem' AND search_path = '/home/u/client.pem'",
			"SELECT passed, reason FROM cert_posture WHERE ca_path = '/etc/corp/ca.pem' AND cn = '${hostname}' " +
				"AND eku = 'clientAuth' AND check_private_key = 1",
		},
		Columns: certPostureColumns(),
		Timeout: d.Timeout,
		Generate: Collected(func(ctx context.Context, qc table.QueryContext) ([]map[string]string, error) {
			env := posture.Env{Scanner: d.Scanner, Device: dev, Logger: log}
			if inlineAsked(qc) {
				return inlineRows(ctx, env, qc), nil
			}
			rows := []map[string]string{}
			for _, r := range src.Load().Evaluate(ctx, env) {
				rows = append(rows, postureRow(r))
			}
			return rows, nil
		}),
	}
}

func inlineAsked(qc table.QueryContext) bool {
	for _, c := range postureInputs {
		if len(qc.Constraints[c].Constraints) > 0 {
			return true
		}
	}
	return false
}

// inlineRows evaluates one ad-hoc rule per combination of the input values.
func inlineRows(ctx context.Context, env posture.Env, qc table.QueryContext) []map[string]string {
	values := map[string][]string{}
	for _, c := range []string{"ca_path", "cn", "eku", "check_private_key"} {
		values[c] = Equals(qc, c)
	}
	// search_path may be a LIKE or GLOB pattern: it is read as a glob and
	// echoed as the query spelled it.
	type search struct{ echo, path string }
	var searches []search
	for _, c := range qc.Constraints["search_path"].Constraints {
		switch c.Operator {
		case table.OperatorEquals, table.OperatorGlob:
			searches = append(searches, search{c.Expression, c.Expression})
		case table.OperatorLike:
			searches = append(searches, search{c.Expression, LikeToGlob(c.Expression)})
		}
	}
	echo := func(row map[string]string, col, v string, set bool) {
		if set {
			row[col] = v
		}
	}
	if len(values["ca_path"]) == 0 {
		row := postureRow(posture.Result{Rule: posture.InlineRuleName, Evaluated: true,
			Reason: "an inline rule needs ca_path (the CA that must issue the certificate)"})
		for _, c := range []string{"cn", "eku", "check_private_key"} {
			if vs := values[c]; len(vs) > 0 {
				row[c] = vs[0]
			}
		}
		if len(searches) > 0 {
			row["search_path"] = searches[0].echo
		}
		return []map[string]string{row}
	}
	orNone := func(vs []string) []string {
		if len(vs) == 0 {
			return []string{""}
		}
		return vs
	}
	if len(searches) == 0 {
		searches = []search{{}}
	}
	var rows []map[string]string
	n := 0
	for _, ca := range values["ca_path"] {
		for _, cn := range orNone(values["cn"]) {
			for _, eku := range orNone(values["eku"]) {
				for _, key := range orNone(values["check_private_key"]) {
					for _, s := range searches {
						n++
						if n > maxInlineRules {
							row := postureRow(posture.Result{Rule: posture.InlineRuleName, Evaluated: true,
								Reason: fmt.Sprintf("more than %d inline rules in one query; the rest were not evaluated", maxInlineRules)})
							row["ca_path"] = ca
							return append(rows, row)
						}
						in := posture.Inline{CAPath: ca, CN: cn, EKU: eku, CheckPrivateKey: key, SearchPath: s.path}
						row := postureRow(posture.EvaluateCheck(ctx, in.Check(), env))
						row["ca_path"] = ca
						echo(row, "cn", cn, len(values["cn"]) > 0)
						echo(row, "eku", eku, len(values["eku"]) > 0)
						echo(row, "check_private_key", key, len(values["check_private_key"]) > 0)
						echo(row, "search_path", s.echo, s.echo != "")
						rows = append(rows, row)
					}
				}
			}
		}
	}
	return rows
}

func postureRow(r posture.Result) map[string]string {
	row := map[string]string{
		"rule":             r.Rule,
		"certificate_id":   r.CertificateID,
		"operating_system": r.OperatingSystem,
		"reason":           r.Reason,
		"expected_cn":      r.ExpectedCN,
		"matched_sha256":   r.MatchedSHA256,
		"matched_path":     r.MatchedPath,
		"matched_store":    r.MatchedStore,
		"candidates":       strconv.Itoa(r.Candidates),
	}
	if r.Evaluated {
		row["passed"] = boolInt(r.Passed)
	}
	return row
}
