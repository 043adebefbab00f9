package posture_test

import (
	"testing"

	"github.com/certsight/certsight/posture"
)

// FuzzDecode: any bytes give a config or problems, never a panic, and a
// decoded config always validates without panicking.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"mtls_certificates": [{"id": "2458ce5a-0c35-4c7f-82c7-8e9487d3ff60", "ca": true, "certificates": "x"}],
	  "rules": [{"name": "r", "type": "client_certificate_v2", "input": {"certificate_id": "2458ce5a-0c35-4c7f-82c7-8e9487d3ff60",
	  "check_private_key": true, "cn": "${serial_number}", "extended_key_usage": ["clientAuth", "1.3.6.1.5.5.7.3.4"],
	  "locations": {"paths": ["/a"], "trust_stores": ["system", "machine"]}}}]}`))
	f.Add([]byte(`{"rules": [{"input": {"locations": null}}], "x": [1, {"y": 2}]}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := posture.Decode(data)
		if err != nil {
			if cfg != nil {
				t.Fatalf("config returned with error %v", err)
			}
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		p := posture.Validate(cfg, "linux")
		if len(p.Checks) != len(cfg.Rules) || len(p.CAs) != len(cfg.MTLSCertificates) {
			t.Fatalf("%d checks for %d rules, %d CAs for %d entries", len(p.Checks), len(cfg.Rules), len(p.CAs), len(cfg.MTLSCertificates))
		}
	})
}

// FuzzParseCAPEM: any text gives certificates or an error, never both.
func FuzzParseCAPEM(f *testing.F) {
	f.Add("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----")
	f.Add("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, text string) {
		certs, err := posture.ParseCAPEM(text)
		if (err == nil) == (len(certs) == 0) {
			t.Fatalf("%d certificates, error %v", len(certs), err)
		}
	})
}
