package posture

import (
	"fmt"
	"os"
	"strings"

	"github.com/certsight/certsight/cert"
)

// InlineRuleName is the rule column of an ad-hoc rule stated in a query.
const InlineRuleName = "inline"

// Inline is an ad-hoc rule stated through cert_posture's input columns.
type Inline struct {
	// CAPath is a PEM or DER file with the issuing CA (required).
	CAPath string
	CN     string
	// EKU is a comma-separated list of usages ("clientAuth,emailProtection").
	EKU string
	// CheckPrivateKey is "1"/"true" or "0"/"false"/"" (default: not checked).
	CheckPrivateKey string
	// SearchPath is where to look (file, directory, glob); empty: the
	// system and user trust stores.
	SearchPath string
}

// inlineSite names an inline rule's fields by the cert_posture columns that
// state them, so that a problem points at the column to fix.
var inlineSite = ruleSite{
	path: func(field string, _ int) string {
		switch field {
		case "extended_key_usage":
			return "eku"
		case "locations.paths":
			return "search_path"
		}
		return field
	},
	relativePaths: true,
}

// Check turns the inline rule into a Check: the columns become a rule input
// (what a config file's rule states), which goes through the same per-rule
// validation as the rules of the config file. Problems with the inputs are
// reported in the check's Problems, so the row says what is wrong.
func (in Inline) Check() Check {
	var ps Problems
	ca, err := readCAFile(in.CAPath)
	if err != nil {
		ps = append(ps, Problem{"ca_path", err.Error()})
	}
	input, keyErr := in.ruleInput()
	ck, inputProblems := checkInput(input, CurrentOS(), inlineSite)
	ck.Name = InlineRuleName
	ck.CA = ca
	ck.CertificateID = ca.ID // stable for the same CA, so inline rows can be joined and compared
	ps = append(ps, inputProblems...)
	if keyErr != nil {
		ps = append(ps, Problem{"check_private_key", keyErr.Error()})
	}
	ck.Problems = ps
	return ck
}

// ruleInput states the columns as a rule input. The eku column is a
// comma-separated list (blank items skipped); check_private_key is a column
// value, "1"/"true" or "0"/"false"/"" (not checked), and another value is
// an error (the input then says false, so only that error is reported).
func (in Inline) ruleInput() (RuleInput, error) {
	r := RuleInput{CN: in.CN}
	for _, u := range strings.Split(in.EKU, ",") {
		if strings.TrimSpace(u) != "" {
			r.ExtendedKeyUsage = append(r.ExtendedKeyUsage, u)
		}
	}
	var keyErr error
	check := false
	switch strings.ToLower(strings.TrimSpace(in.CheckPrivateKey)) {
	case "", "0", "false":
	case "1", "true":
		check = true
	default:
		keyErr = fmt.Errorf("%q is not 0 or 1", in.CheckPrivateKey)
	}
	r.CheckPrivateKey = &check
	if in.SearchPath != "" {
		r.Locations.Paths = []string{in.SearchPath}
	}
	return r, keyErr
}

func readCAFile(path string) (CA, error) {
	ca := CA{Name: path, IsCA: true}
	if strings.TrimSpace(path) == "" {
		return ca, fmt.Errorf("required")
	}
	data, err := readLimited(path)
	if err != nil {
		if os.IsNotExist(err) {
			return ca, fmt.Errorf("%s does not exist", path)
		}
		return ca, fmt.Errorf("reading %s: %w", path, err)
	}
	certs, err := cert.ParseCertificates(data)
	if err != nil {
		return ca, fmt.Errorf("%s: %w", path, err)
	}
	ca.Certificates = certs
	ca.ID = DerivedID(certs[0])
	return ca, nil
}
