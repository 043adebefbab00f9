package edge

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/certsight/certsight/internal/enum"
)

// LegacyMode says when the Cloudflare-proprietary Cf-Client-Cert-Der-Base64
// and Cf-Client-Cert-Sha256 headers are sent.
type LegacyMode int

// Legacy forwarding modes (--legacy-forwarding).
const (
	LegacyOff LegacyMode = iota
	// LegacyFirstRequest sends them on the first request of each connection,
	// as Cloudflare documents it.
	LegacyFirstRequest
	// LegacyEveryRequest sends them on every request.
	LegacyEveryRequest
)

// legacyNames spells the modes as --legacy-forwarding takes them; empty is off.
var legacyNames = enum.Names[LegacyMode]{Type: "LegacyMode", What: "legacy-forwarding mode",
	Words: []string{"off", "first-request", "every-request"}, Aliases: map[string]LegacyMode{"": LegacyOff}}

// ParseLegacyMode reads a --legacy-forwarding value.
func ParseLegacyMode(s string) (LegacyMode, error) { return legacyNames.Parse(s) }

func (m LegacyMode) String() string { return legacyNames.String(m) }

// Legacy header names.
const (
	HeaderLegacyDER    = "Cf-Client-Cert-Der-Base64"
	HeaderLegacySHA256 = "Cf-Client-Cert-Sha256"
)

// HostnameSettings has the shape of Cloudflare's Access certificate settings
// (PUT /zones/{zone_id}/access/certificates/settings), which switch legacy
// forwarding on per hostname:
//
//	{"settings": [{"hostname": "app.example.com", "client_certificate_forwarding": true}]}
type HostnameSettings struct {
	Settings []HostnameSetting `json:"settings"`
}

// HostnameSetting is one hostname's entry.
type HostnameSetting struct {
	Hostname                    string `json:"hostname"`
	ChinaNetwork                bool   `json:"china_network"`
	ClientCertificateForwarding bool   `json:"client_certificate_forwarding"`
}

// LoadHostnameSettings decodes the settings JSON; unknown keys are errors.
func LoadHostnameSettings(r io.Reader) (*HostnameSettings, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading hostname settings: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var hs HostnameSettings
	if err := dec.Decode(&hs); err != nil {
		return nil, fmt.Errorf("decoding hostname settings: %w", err)
	}
	for i, s := range hs.Settings {
		if s.Hostname == "" {
			return nil, fmt.Errorf("settings[%d].hostname: empty", i)
		}
	}
	return &hs, nil
}

// hostSet is the lowercase hostnames with forwarding on.
func (hs *HostnameSettings) hostSet() map[string]struct{} {
	m := map[string]struct{}{}
	for _, s := range hs.Settings {
		if s.ClientCertificateForwarding {
			m[strings.ToLower(strings.TrimSuffix(s.Hostname, "."))] = struct{}{}
		}
	}
	return m
}
