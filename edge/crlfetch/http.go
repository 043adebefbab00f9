package crlfetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// errNotHTTP marks a distribution point or redirect target that is not an
// http:// URL with a host.
var errNotHTTP = errors.New("not an http:// URL")

// checkURL accepts only http URLs with a host: the CRL is signed, so TLS
// adds nothing but a way to make the edge talk to arbitrary TLS endpoints.
func checkURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNotHTTP, err)
	}
	if !strings.EqualFold(u.Scheme, "http") || u.Host == "" || u.User != nil {
		return nil, fmt.Errorf("%w: %q", errNotHTTP, raw)
	}
	return u, nil
}

// newHTTPClient is the client for distribution points: no proxy from the
// environment, no keep-alive (a fetch per CRL per refresh does not need
// one, and an idle connection per distribution point is a cost), bounded
// dial, header and redirect handling.
func newHTTPClient(timeout time.Duration, maxRedirects int) *http.Client {
	dialer := &net.Dialer{Timeout: min(timeout, 5*time.Second)}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                  nil,
			DialContext:            dialer.DialContext,
			DisableKeepAlives:      true,
			ResponseHeaderTimeout:  timeout,
			MaxResponseHeaderBytes: 64 << 10,
		},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > maxRedirects {
				return fmt.Errorf("more than %d redirects", maxRedirects)
			}
			if _, err := checkURL(req.URL.String()); err != nil {
				return fmt.Errorf("redirect refused: %w", err)
			}
			return nil
		},
	}
}

// validators are the HTTP cache validators of the CRL last accepted from a
// distribution point, sent back so an unchanged CRL costs a 304.
type validators struct {
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
}

// response is one exchange's outcome.
type response struct {
	body        []byte
	notModified bool
	validators  validators
}

// get fetches u, conditionally when v has validators, reading at most
// maxBytes of body.
func get(ctx context.Context, c *http.Client, u string, v validators, maxBytes int64) (response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return response{}, fmt.Errorf("building request: %w", err)
	}
	req.Header.Set("User-Agent", "certsight-edge")
	req.Header.Set("Accept", "application/pkix-crl, */*;q=0.5")
	if v.ETag != "" {
		req.Header.Set("If-None-Match", v.ETag)
	}
	if v.LastModified != "" {
		req.Header.Set("If-Modified-Since", v.LastModified)
	}
	resp, err := c.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotModified:
		if v == (validators{}) {
			return response{}, errors.New("304 Not Modified to an unconditional request")
		}
		return response{notModified: true, validators: v}, nil
	default:
		return response{}, fmt.Errorf("HTTP status %s", resp.Status)
	}
	if resp.ContentLength > maxBytes {
		return response{}, fmt.Errorf("CRL of %d bytes is over the %d-byte limit", resp.ContentLength, maxBytes)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBytes+1))
	if err != nil {
		return response{}, fmt.Errorf("reading body: %w", err)
	}
	if int64(len(body)) > maxBytes {
		return response{}, fmt.Errorf("CRL is over the %d-byte limit", maxBytes)
	}
	return response{body: body, validators: validators{ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified")}}, nil
}
