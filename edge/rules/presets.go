package rules

import (
	"embed"
	"fmt"
)

// The presets are plain ruleset JSON, exactly what a user could pass as a rules file; they
// double as examples.
//
//go:embed presets/*.json
var presetFS embed.FS

// DefaultRuleset returns the four default rules: remove Client-Cert; remove Client-Cert-Chain;
// set Client-Cert from cf.tls_client_auth.cert_rfc9440 for a verified, unrevoked, not too large
// certificate; set Client-Cert-Chain from cf.tls_client_auth.cert_chain_rfc9440 under the same
// condition plus a non-empty, not too large chain (so never without Client-Cert).
// The JSON is in presets/default.json.
func DefaultRuleset() *Ruleset { return mustPreset("presets/default.json") }

// ManagedTransformRuleset returns rules like Cloudflare's managed transform "Add TLS client auth
// headers": a cf-cert-<x> request header for each field cf.tls_client_auth.cert_<x>, 17 in all.
// The JSON is in presets/managed-transform.json.
func ManagedTransformRuleset() *Ruleset { return mustPreset("presets/managed-transform.json") }

// XFCCRuleset returns the x-forwarded-client-cert preset: remove client copies, then set Envoy's
// format (field certsight.xfcc) for a verified, unrevoked certificate. The JSON is in
// presets/xfcc.json.
func XFCCRuleset() *Ruleset { return mustPreset("presets/xfcc.json") }

// PresetJSON returns the JSON source of a preset by file name ("default.json",
// "managed-transform.json", "xfcc.json"), for printing as an example.
func PresetJSON(name string) ([]byte, error) {
	return presetFS.ReadFile("presets/" + name)
}

// mustPreset panics only if the embedded JSON is broken, which the tests rule out.
func mustPreset(path string) *Ruleset {
	data, err := presetFS.ReadFile(path)
	if err != nil {
		panic(fmt.Sprintf("rules: embedded preset %s: %v", path, err))
	}
	rs, err := ParseRuleset(data, NewSchema(CloudflareFields()))
	if err != nil {
		panic(fmt.Sprintf("rules: embedded preset %s: %v", path, err))
	}
	return rs
}
