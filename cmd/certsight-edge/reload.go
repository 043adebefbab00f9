package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/certsight/certsight/cert"
	"github.com/certsight/certsight/edge"
	"github.com/certsight/certsight/edge/reload"
	"github.com/certsight/certsight/edge/revocation"
	"github.com/certsight/certsight/edge/rules"
)

// fileConfig is what the configuration files say. It is read whole at start
// and on every reload, and a reload swaps it in only once every file read
// and checked.
type fileConfig struct {
	cert  *tls.Certificate
	cas   []*x509.Certificate // nil without --client-ca
	inter []*x509.Certificate // nil without --client-intermediates
	rules *rules.Ruleset      // nil: the default rules
	hosts *edge.HostnameSettings
}

// watchedFiles are the files a reload reads (CRL files have their own
// polling, revocation.Files).
func (o options) watchedFiles() []string {
	return []string{o.tlsCert, o.tlsKey, o.clientCA, o.intermediates, o.rulesFile, o.hostnameSettings}
}

// readFileConfig reads every configuration file. An error is a
// *reload.FileError naming the file. now is the clock a server certificate
// must be valid at (zero: not checked, as at start).
func readFileConfig(o options, log *slog.Logger, now time.Time) (*fileConfig, error) {
	fc := &fileConfig{}
	certPEM, err := os.ReadFile(o.tlsCert)
	if err != nil {
		return nil, &reload.FileError{Path: o.tlsCert, Err: fmt.Errorf("reading --tls-cert: %w", err)}
	}
	keyPEM, err := os.ReadFile(o.tlsKey)
	if err != nil {
		return nil, &reload.FileError{Path: o.tlsKey, Err: fmt.Errorf("reading --tls-key: %w", err)}
	}
	kp, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		// A pair that does not match is blamed on the key: it is the file
		// that must follow the certificate.
		path := o.tlsKey
		if _, cerr := cert.ParseCertificates(certPEM); cerr != nil {
			path = o.tlsCert
		}
		return nil, &reload.FileError{Path: path, Err: fmt.Errorf("loading server certificate: %w", err)}
	}
	if !now.IsZero() && kp.Leaf != nil && (now.Before(kp.Leaf.NotBefore) || now.After(kp.Leaf.NotAfter)) {
		// Every client would refuse it; the running certificate is better.
		return nil, &reload.FileError{Path: o.tlsCert, Err: fmt.Errorf("server certificate is not valid now (valid %s to %s)",
			kp.Leaf.NotBefore.UTC().Format(time.RFC3339), kp.Leaf.NotAfter.UTC().Format(time.RFC3339))}
	}
	fc.cert = &kp
	if o.clientCA != "" {
		if fc.cas, err = readCerts("--client-ca", o.clientCA); err != nil {
			return nil, &reload.FileError{Path: o.clientCA, Err: err}
		}
	}
	if o.intermediates != "" {
		if fc.inter, err = readCerts("--client-intermediates", o.intermediates); err != nil {
			return nil, &reload.FileError{Path: o.intermediates, Err: err}
		}
	}
	if o.rulesFile != "" {
		f, err := os.Open(o.rulesFile)
		if err != nil {
			return nil, &reload.FileError{Path: o.rulesFile, Err: fmt.Errorf("opening --rules: %w", err)}
		}
		rs, err := rules.LoadRuleset(f, rules.NewSchema(rules.CloudflareFields()))
		f.Close()
		if err != nil {
			return nil, &reload.FileError{Path: o.rulesFile, Err: fmt.Errorf("loading --rules: %w", err)}
		}
		fc.rules = rs
		if names := rs.UncheckedForwarding(); len(names) > 0 {
			log.Warn("rules forward certificate fields without checking cf.tls_client_auth.cert_verified: unverified or revoked certificates reach the origin looking the same as good ones",
				"rules", o.rulesFile, "rule", names)
		}
	}
	if o.hostnameSettings != "" {
		f, err := os.Open(o.hostnameSettings)
		if err != nil {
			return nil, &reload.FileError{Path: o.hostnameSettings, Err: fmt.Errorf("opening --hostname-settings: %w", err)}
		}
		hs, err := edge.LoadHostnameSettings(f)
		f.Close()
		if err != nil {
			return nil, &reload.FileError{Path: o.hostnameSettings, Err: err}
		}
		fc.hosts = hs
	}
	return fc, nil
}

// pools returns the trust anchors and intermediates as pools (nil when the
// flag is not given).
func (fc *fileConfig) pools() (roots, inter *x509.CertPool) {
	if fc.cas != nil {
		roots = x509.NewCertPool()
		for _, c := range fc.cas {
			roots.AddCert(c)
		}
	}
	if fc.inter != nil {
		inter = x509.NewCertPool()
		for _, c := range fc.inter {
			inter.AddCert(c)
		}
	}
	return roots, inter
}

// apply sets what fc decides in cfg, with a verifier copied from template.
func (fc *fileConfig) apply(cfg edge.Config, template edge.Verifier) edge.Config {
	v := template
	v.Roots, v.Intermediates = fc.pools()
	cfg.Verifier = &v
	cfg.Certificate = fc.cert
	cfg.XFCCBy = edge.XFCCByFromCertificate(fc.cert.Leaf)
	cfg.Rules = fc.rules
	cfg.LegacyHosts = fc.hosts
	return cfg
}

// issuers are the certificates whose CRLs the revocation store accepts.
func (fc *fileConfig) issuers() []*x509.Certificate {
	return append(append([]*x509.Certificate(nil), fc.cas...), fc.inter...)
}

// reloader re-reads the configuration files into the running edge.
type reloader struct {
	o        options
	log      *slog.Logger
	e        *edge.Edge
	base     edge.Config   // the configuration at start: what no file decides
	verifier edge.Verifier // template: policy, limits, revocation, OCSP
	crls     *revocation.Files
}

// load is reload.Options.Load: read and check every file, make the new CAs
// known to the revocation store and read the CRL files (so a new CA's CRL
// is in force before its certificates verify), then swap.
func (r *reloader) load() ([]slog.Attr, error) {
	fc, err := readFileConfig(r.o, r.log, time.Now())
	if err != nil {
		return nil, err
	}
	cfg := fc.apply(r.base, r.verifier)
	if store := r.verifier.Revocation; store != nil {
		// Issuers are only ever added: one taken out of --client-ca no
		// longer verifies anything, so its revocation data is inert.
		for _, c := range fc.issuers() {
			store.Learn(c)
		}
	}
	if f, ok := r.verifier.CRLFetch.(interface{ AddIssuers([]*x509.Certificate) }); ok {
		f.AddIssuers(fc.issuers()) // --crl-fetch: fetch the new CAs' CRLs too
	}
	if r.crls != nil {
		r.crls.Poll()
	}
	if err := r.e.Reload(cfg); err != nil {
		return nil, err
	}
	leaf := fc.cert.Leaf
	return []slog.Attr{
		slog.String("server_cert_serial", fmt.Sprintf("%X", leaf.SerialNumber)),
		slog.Time("server_cert_not_after", leaf.NotAfter),
		slog.Int("trust_anchors", len(fc.cas)),
		slog.Int("intermediates", len(fc.inter)),
		slog.String("rules", cmp(r.o.rulesFile, "default")),
	}, nil
}
