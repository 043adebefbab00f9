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

// Check turns the inline rule into a Check; problems with the inputs are
// reported in the check's Problems, so the row says what is wrong.
func (in Inline) Check() Check {
	ck := Check{Name: InlineRuleName, CN: in.CN, CheckValidity: true}
	var ps Problems
	ca, err := readCAFile(in.CAPath)
	if err != nil {
		ps = append(ps, Problem{"ca_path", err.Error()})
	}
	ck.CA = ca
	ck.CertificateID = ca.ID // stable for the same CA, so inline rows can be joined and compared
	if err := ValidateCN(in.CN); err != nil {
		ps = append(ps, Problem{"cn", err.Error()})
	}
	for _, u := range strings.Split(in.EKU, ",") {
		if strings.TrimSpace(u) == "" {
			continue
		}
		n, err := NormalizeEKU(u)
		if err != nil {
			ps = append(ps, Problem{"eku", err.Error()})
			continue
		}
		ck.EKUs = append(ck.EKUs, n)
	}
	switch strings.ToLower(strings.TrimSpace(in.CheckPrivateKey)) {
	case "", "0", "false":
	case "1", "true":
		ck.CheckPrivateKey = true
	default:
		ps = append(ps, Problem{"check_private_key", fmt.Sprintf("%q is not 0 or 1", in.CheckPrivateKey)})
	}
	if in.SearchPath != "" {
		ck.Paths = []string{in.SearchPath}
	} else {
		ck.TrustStores = defaultTrustStores()
	}
	ck.Problems = ps
	return ck
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
