// Package ocsp checks client certificates with OCSP (RFC 6960): it builds
// requests, sends them over HTTP POST, and accepts a response only when it is
// signed by the certificate's issuer or by a responder the issuer delegated
// (id-kp-OCSPSigning, issued by it, valid now), answers for the asked serial
// under the asked issuer, and is inside its thisUpdate/nextUpdate window.
// Answers are cached per (issuer, serial) until nextUpdate; a handshake
// waits for the network at most a bound, and the fetch goes on in the
// background so the next handshake finds the answer.
package ocsp

import (
	"bytes"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// Status is an OCSP answer about one certificate, as the edge uses it.
type Status int

const (
	// Good: a valid response says good.
	Good Status = iota
	// Revoked: a valid response says revoked.
	Revoked
	// Unknown: the responder said unknown, or no valid answer could be had
	// in time (unreachable, slow, malformed, wrong signer, other serial).
	Unknown
	// NotChecked: the certificate names no OCSP responder and none is
	// configured, so OCSP does not cover it.
	NotChecked
)

func (s Status) String() string {
	switch s {
	case Good:
		return "good"
	case Revoked:
		return "revoked"
	case Unknown:
		return "unknown"
	case NotChecked:
		return "not_checked"
	}
	return "invalid"
}

var (
	oidSHA1          = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidBasicResponse = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 1}
)

// ASN.1 shapes of RFC 6960 §4.1 and §4.2.

type certID struct {
	HashAlgorithm pkix.AlgorithmIdentifier
	NameHash      []byte
	IssuerKeyHash []byte
	SerialNumber  *big.Int
}

type request struct {
	Cert certID
}

type tbsRequest struct {
	Version     int       `asn1:"explicit,tag:0,default:0,optional"`
	RequestList []request // requestorName and extensions are not sent
}

type ocspRequest struct {
	TBSRequest tbsRequest
}

type responseASN1 struct {
	Status   asn1.Enumerated
	Response responseBytes `asn1:"explicit,tag:0,optional"`
}

type responseBytes struct {
	ResponseType asn1.ObjectIdentifier
	Response     []byte
}

type basicResponse struct {
	TBSResponseData    asn1.RawValue
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          asn1.BitString
	Certificates       []asn1.RawValue `asn1:"explicit,tag:0,optional"`
}

type responseData struct {
	Raw            asn1.RawContent
	Version        int `asn1:"optional,default:0,explicit,tag:0"`
	RawResponderID asn1.RawValue
	ProducedAt     time.Time `asn1:"generalized"`
	Responses      []singleResponse
}

type singleResponse struct {
	CertID           certID
	Good             asn1.Flag        `asn1:"tag:0,optional"`
	Revoked          revokedInfo      `asn1:"tag:1,optional"`
	Unknown          asn1.Flag        `asn1:"tag:2,optional"`
	ThisUpdate       time.Time        `asn1:"generalized"`
	NextUpdate       time.Time        `asn1:"generalized,explicit,tag:0,optional"`
	SingleExtensions []pkix.Extension `asn1:"explicit,tag:1,optional"`
}

type revokedInfo struct {
	RevocationTime time.Time       `asn1:"generalized"`
	Reason         asn1.Enumerated `asn1:"explicit,tag:0,optional"`
}

// responseStatus values (RFC 6960 §4.2.1).
var responseStatusText = map[asn1.Enumerated]string{
	1: "malformedRequest", 2: "internalError", 3: "tryLater", 5: "sigRequired", 6: "unauthorized",
}

// CertID identifies cert under issuer the way requests and responses do
// (SHA-1 hashes, as every responder accepts).
type CertID struct {
	NameHash, KeyHash []byte
	Serial            *big.Int
}

// NewCertID computes the identifier of cert as issued by issuer.
func NewCertID(cert, issuer *x509.Certificate) (CertID, error) {
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(issuer.RawSubjectPublicKeyInfo, &spki); err != nil {
		return CertID{}, fmt.Errorf("ocsp: issuer public key: %w", err)
	}
	nh := sha1.Sum(issuer.RawSubject)
	kh := sha1.Sum(spki.PublicKey.RightAlign())
	return CertID{NameHash: nh[:], KeyHash: kh[:], Serial: cert.SerialNumber}, nil
}

// Request encodes an OCSP request for id (no nonce: answers are cached and
// shared, as RFC 5019 lightweight profile clients do).
func Request(id CertID) ([]byte, error) {
	return asn1.Marshal(ocspRequest{TBSRequest: tbsRequest{RequestList: []request{{Cert: certID{
		HashAlgorithm: pkix.AlgorithmIdentifier{Algorithm: oidSHA1, Parameters: asn1.NullRawValue},
		NameHash:      id.NameHash, IssuerKeyHash: id.KeyHash, SerialNumber: id.Serial,
	}}}}})
}

// Response is a verified answer about one certificate.
type Response struct {
	Status           Status // Good, Revoked or Unknown
	ThisUpdate       time.Time
	NextUpdate       time.Time // zero: the responder gave none
	RevokedAt        time.Time
	ProducedAt       time.Time
	SignedByDelegate bool
}

// Errors a response can be rejected with; each is wrapped with detail.
var (
	ErrMalformed   = errors.New("ocsp: malformed response")
	ErrNotSuccess  = errors.New("ocsp: responder did not answer successfully")
	ErrSigner      = errors.New("ocsp: response not signed by the issuer or a delegated responder")
	ErrOtherCert   = errors.New("ocsp: response does not answer for the certificate asked about")
	ErrWindow      = errors.New("ocsp: response outside its validity window")
	ErrUnsupported = errors.New("ocsp: unsupported response")
)

// MaxClockSkew is how far thisUpdate may lie in the future and nextUpdate in
// the past before a response is refused.
const MaxClockSkew = 5 * time.Minute

// ParseResponse checks der as the answer about id (cert under issuer) at
// now and returns it. Every failed check is an error; the caller decides
// what that means (the edge: Unknown).
func ParseResponse(der []byte, id CertID, issuer *x509.Certificate, now time.Time) (*Response, error) {
	var resp responseASN1
	rest, err := asn1.Unmarshal(der, &resp)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(rest) > 0 {
		return nil, fmt.Errorf("%w: trailing data", ErrMalformed)
	}
	if resp.Status != 0 {
		txt := responseStatusText[resp.Status]
		if txt == "" {
			txt = fmt.Sprintf("status %d", resp.Status)
		}
		return nil, fmt.Errorf("%w: %s", ErrNotSuccess, txt)
	}
	if !resp.Response.ResponseType.Equal(oidBasicResponse) {
		return nil, fmt.Errorf("%w: response type %v", ErrUnsupported, resp.Response.ResponseType)
	}
	var basic basicResponse
	if rest, err := asn1.Unmarshal(resp.Response.Response, &basic); err != nil || len(rest) > 0 {
		return nil, fmt.Errorf("%w: basic response: %v", ErrMalformed, err)
	}
	var data responseData
	if rest, err := asn1.Unmarshal(basic.TBSResponseData.FullBytes, &data); err != nil || len(rest) > 0 {
		return nil, fmt.Errorf("%w: response data: %v", ErrMalformed, err)
	}

	signer, delegated, err := findSigner(data.RawResponderID, basic.Certificates, issuer, now)
	if err != nil {
		return nil, err
	}
	algo := signatureAlgorithm(basic.SignatureAlgorithm)
	if algo == x509.UnknownSignatureAlgorithm {
		return nil, fmt.Errorf("%w: signature algorithm %v", ErrUnsupported, basic.SignatureAlgorithm.Algorithm)
	}
	if err := signer.CheckSignature(algo, basic.TBSResponseData.FullBytes, basic.Signature.RightAlign()); err != nil {
		return nil, fmt.Errorf("%w: signature: %v", ErrSigner, err)
	}

	var single *singleResponse
	for i := range data.Responses {
		r := &data.Responses[i]
		if !r.CertID.HashAlgorithm.Algorithm.Equal(oidSHA1) {
			continue
		}
		if bytes.Equal(r.CertID.NameHash, id.NameHash) && bytes.Equal(r.CertID.IssuerKeyHash, id.KeyHash) &&
			r.CertID.SerialNumber != nil && r.CertID.SerialNumber.Cmp(id.Serial) == 0 {
			single = r
			break
		}
	}
	if single == nil {
		return nil, fmt.Errorf("%w: serial %X", ErrOtherCert, id.Serial)
	}
	out := &Response{ThisUpdate: single.ThisUpdate, NextUpdate: single.NextUpdate, ProducedAt: data.ProducedAt,
		SignedByDelegate: delegated}
	switch {
	case bool(single.Good):
		out.Status = Good
	case bool(single.Unknown):
		out.Status = Unknown
	default:
		out.Status = Revoked
		out.RevokedAt = single.Revoked.RevocationTime
	}
	if single.ThisUpdate.After(now.Add(MaxClockSkew)) {
		return nil, fmt.Errorf("%w: thisUpdate %s is in the future", ErrWindow, single.ThisUpdate.Format(time.RFC3339))
	}
	if !single.NextUpdate.IsZero() && single.NextUpdate.Before(now.Add(-MaxClockSkew)) {
		return nil, fmt.Errorf("%w: nextUpdate %s has passed", ErrWindow, single.NextUpdate.Format(time.RFC3339))
	}
	return out, nil
}

// findSigner picks the certificate that signed the response: the issuer
// itself when the responder ID names it, otherwise an included certificate
// the ID names that the issuer signed, that carries id-kp-OCSPSigning and is
// valid at now (RFC 6960 §4.2.2.2).
func findSigner(rawID asn1.RawValue, raws []asn1.RawValue, issuer *x509.Certificate, now time.Time) (*x509.Certificate, bool, error) {
	matches := func(c *x509.Certificate) bool {
		switch rawID.Tag {
		case 1: // byName
			return bytes.Equal(rawID.Bytes, c.RawSubject)
		case 2: // byKey: SHA-1 of the subjectPublicKey bits
			var kh []byte
			if _, err := asn1.Unmarshal(rawID.Bytes, &kh); err != nil {
				return false
			}
			var spki struct {
				Algorithm pkix.AlgorithmIdentifier
				PublicKey asn1.BitString
			}
			if _, err := asn1.Unmarshal(c.RawSubjectPublicKeyInfo, &spki); err != nil {
				return false
			}
			sum := sha1.Sum(spki.PublicKey.RightAlign())
			return bytes.Equal(kh, sum[:])
		}
		return false
	}
	if rawID.Class != asn1.ClassContextSpecific || (rawID.Tag != 1 && rawID.Tag != 2) {
		return nil, false, fmt.Errorf("%w: responder ID", ErrMalformed)
	}
	if matches(issuer) {
		return issuer, false, nil
	}
	for i, raw := range raws {
		c, err := x509.ParseCertificate(raw.FullBytes)
		if err != nil {
			return nil, false, fmt.Errorf("%w: included certificate %d: %v", ErrMalformed, i+1, err)
		}
		if !matches(c) {
			continue
		}
		if err := c.CheckSignatureFrom(issuer); err != nil {
			return nil, false, fmt.Errorf("%w: responder %q is not issued by the certificate's issuer", ErrSigner, c.Subject.String())
		}
		ok := false
		for _, u := range c.ExtKeyUsage {
			if u == x509.ExtKeyUsageOCSPSigning {
				ok = true
			}
		}
		if !ok {
			return nil, false, fmt.Errorf("%w: responder %q lacks id-kp-OCSPSigning", ErrSigner, c.Subject.String())
		}
		if now.Before(c.NotBefore) || now.After(c.NotAfter) {
			return nil, false, fmt.Errorf("%w: responder %q is not valid now", ErrSigner, c.Subject.String())
		}
		return c, true, nil
	}
	return nil, false, fmt.Errorf("%w: no certificate matches the responder ID", ErrSigner)
}

var sigAlgos = []struct {
	oid  asn1.ObjectIdentifier
	algo x509.SignatureAlgorithm
}{
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 5}, x509.SHA1WithRSA},
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}, x509.SHA256WithRSA},
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}, x509.SHA384WithRSA},
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}, x509.SHA512WithRSA},
	{asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 1}, x509.ECDSAWithSHA1},
	{asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}, x509.ECDSAWithSHA256},
	{asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}, x509.ECDSAWithSHA384},
	{asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}, x509.ECDSAWithSHA512},
	{asn1.ObjectIdentifier{1, 3, 101, 112}, x509.PureEd25519},
}

func signatureAlgorithm(ai pkix.AlgorithmIdentifier) x509.SignatureAlgorithm {
	for _, s := range sigAlgos {
		if ai.Algorithm.Equal(s.oid) {
			return s.algo
		}
	}
	return x509.UnknownSignatureAlgorithm
}
