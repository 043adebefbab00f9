package edge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"time"

	"github.com/certsight/certsight/internal/httpfield"
)

// fastProxy is the proxy's common path: a request without a body (GET,
// HEAD, OPTIONS, TRACE) to an http:// origin is written and its response
// read in the handler's own goroutine, over a pooled HTTP/1.1 connection
// (originPool). http.Transport would hand each request to two more
// goroutines (its read and write loops) and clone the request first; on a
// busy edge those handoffs cost more CPU than anything the edge itself does.
//
// Everything else goes to next, the httputil.ReverseProxy: request bodies,
// upgrades, hop-by-hop headers other than "Connection: keep-alive/close",
// queries ReverseProxy would re-encode, https origins, other platforms. The
// fast path keeps ReverseProxy's behaviour for what it handles:
//   - the client's Forwarded and X-Forwarded-For/-Host/-Proto are dropped and
//     X-Forwarded-* set from the connection (then the edge's rules run, so a
//     rule may still set one of them);
//   - the edge sanitizes and sets headers exactly as in Rewrite;
//   - header names and values are checked as http.Transport checks them
//     (a name that is not a token, a value with a control character: 502);
//   - the response is parsed by http.ReadResponse (net/http's framing rules),
//     1xx responses are forwarded, hop-by-hop response headers removed,
//     trailers passed on, streamed responses flushed as they come, and a
//     body cut short aborts the client's response (http.ErrAbortHandler);
//   - a connection is reused only after a complete, well-framed response
//     with nothing after it, and is checked for unsolicited bytes or a close
//     before reuse (see originConn.clean); a request on a reused connection
//     that dies before any response byte is retried once on a new one, as
//     http.Transport retries replayable requests.
type fastProxy struct {
	e    *Edge
	next http.Handler // the ReverseProxy, for everything else
	pool *originPool
	host string // Host header sent to the origin
	log  *slog.Logger
	bufs *bufferPool
	// responseHeaderTimeout bounds the wait for the origin's response
	// header, as http.Transport.ResponseHeaderTimeout does.
	responseHeaderTimeout time.Duration
	// onOriginError is ProxyOptions.OnOriginError (metrics).
	onOriginError func(*http.Request, error)
}

// newFastProxy returns nil when origin cannot take the fast path.
// The origin timeouts are the default transport's (ProxyOptions).
func newFastProxy(e *Edge, origin *url.URL, next http.Handler, log *slog.Logger, bufs *bufferPool, opts ProxyOptions) *fastProxy {
	if !peekSupported || origin.Scheme != "http" || origin.Opaque != "" || origin.User != nil ||
		(origin.Path != "" && origin.Path != "/") || origin.RawPath != "" || origin.RawQuery != "" || origin.ForceQuery {
		return nil
	}
	addr := origin.Host
	if origin.Port() == "" {
		addr = net.JoinHostPort(origin.Hostname(), "80")
	}
	p := &fastProxy{
		e: e, next: next, host: origin.Host, log: log, bufs: bufs,
		pool: &originPool{
			addr:        addr,
			dialer:      net.Dialer{Timeout: orDefault(opts.OriginDialTimeout, 5*time.Second), KeepAlive: 30 * time.Second},
			maxIdle:     1024,
			idleTimeout: orDefault(opts.OriginIdleTimeout, 90*time.Second),
		},
		responseHeaderTimeout: orDefault(opts.OriginResponseHeaderTimeout, 60*time.Second),
		onOriginError:         opts.OnOriginError,
	}
	return p
}

func (p *fastProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !fastEligible(r) {
		p.next.ServeHTTP(w, r)
		return
	}
	ci, r := p.e.requestInfo(r)
	// xfDirect: no rule of the request's configuration manages Forwarded or
	// X-Forwarded-*, so the values are written straight to the origin
	// instead of through the header map.
	xfDirect := ci.cfg.xfDirect
	h := r.Header
	var clientIP string
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		clientIP = ip
	}
	proto := "http"
	if r.TLS != nil {
		proto = "https"
	}
	delete(h, "Forwarded")
	delete(h, "X-Forwarded-For")
	delete(h, "X-Forwarded-Host")
	delete(h, "X-Forwarded-Proto")
	delete(h, "Connection") // only keep-alive or close: the client's hop
	if !xfDirect {
		if clientIP != "" {
			h["X-Forwarded-For"] = []string{clientIP}
		}
		h["X-Forwarded-Host"] = []string{r.Host}
		h["X-Forwarded-Proto"] = []string{proto}
	}
	p.e.apply(h, r, ci)
	if err := checkHeader(h); err != nil {
		p.fail(w, r, err)
		return
	}
	var xf *xForwarded
	if xfDirect {
		xf = &xForwarded{forIP: clientIP, host: r.Host, proto: proto}
	}
	p.roundTrip(w, r, xf)
}

type xForwarded struct{ forIP, host, proto string }

// neverStopped stands for context.AfterFunc's stop on a context that is
// never cancelled.
func neverStopped() bool { return true }

// errRetry marks a failure on a reused connection before any response
// byte: the origin had closed it while idle.
var errRetry = errors.New("reused origin connection closed")

func (p *fastProxy) roundTrip(w http.ResponseWriter, r *http.Request, xf *xForwarded) {
	ctx := r.Context()
	for attempt := 0; ; attempt++ {
		oc, err := p.pool.get(ctx)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		// A client that goes away ends the origin exchange too (when its
		// server says so: the HTTP/1.1 lane's requests are never cancelled).
		stop := neverStopped
		if ctx.Done() != nil {
			stop = context.AfterFunc(ctx, oc.abort)
		}
		res, infos, err := p.exchange(ctx, oc, r, xf)
		if err != nil {
			stop()
			oc.close()
			if errors.Is(err, errRetry) && attempt == 0 && ctx.Err() == nil {
				continue
			}
			p.fail(w, r, err)
			return
		}
		complete, reusable := p.copyResponse(w, res, infos, oc)
		if stop() && complete && reusable {
			p.pool.put(oc)
		} else {
			oc.close()
		}
		if !complete {
			// The client must not take a cut-short body for a whole one.
			panic(http.ErrAbortHandler)
		}
		return
	}
}

// exchange writes the request and reads the response header: the final
// response and any 1xx before it.
func (p *fastProxy) exchange(ctx context.Context, oc *originConn, r *http.Request, xf *xForwarded) (*http.Response, []*http.Response, error) {
	if err := p.writeRequest(oc, r, xf); err != nil {
		if oc.reused {
			return nil, nil, fmt.Errorf("%w: %v", errRetry, err)
		}
		return nil, nil, fmt.Errorf("writing request to origin: %w", err)
	}
	oc.headerDeadline(time.Now(), p.responseHeaderTimeout)
	if _, err := oc.br.Peek(1); err != nil {
		if oc.reused && ctx.Err() == nil && !isTimeout(err) {
			return nil, nil, fmt.Errorf("%w: %v", errRetry, err)
		}
		return nil, nil, fmt.Errorf("reading origin response: %w", err)
	}
	var infos []*http.Response
	for {
		res, err := http.ReadResponse(oc.br, r)
		if err != nil {
			return nil, nil, fmt.Errorf("reading origin response: %w", err)
		}
		switch {
		case res.StatusCode == http.StatusSwitchingProtocols:
			return nil, nil, errors.New("origin switched protocols without an upgrade request")
		case res.StatusCode >= 100 && res.StatusCode < 200:
			if len(infos) >= max1xx {
				return nil, nil, errors.New("too many 1xx responses from origin")
			}
			infos = append(infos, res)
			continue
		}
		// The header timeout ends here. A body already in the buffer is
		// read without touching the connection, and the next exchange sets
		// its own deadline, so the clearing (a timer update) is skipped
		// then.
		if !(res.ContentLength >= 0 && int64(oc.br.Buffered()) >= res.ContentLength) {
			oc.c.SetReadDeadline(time.Time{})
			oc.deadline.Set(time.Time{})
		}
		return res, infos, nil
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// max1xx bounds the informational responses before the final one, as
// http.Transport does.
const max1xx = 5

// copyResponse writes the 1xx responses and res to w. complete says the
// body reached its end and the client took it all; reusable that the
// connection may carry another request (framed end, no close asked for,
// nothing after the end).
func (p *fastProxy) copyResponse(w http.ResponseWriter, res *http.Response, infos []*http.Response, oc *originConn) (complete, reusable bool) {
	dst := w.Header()
	for _, info := range infos {
		for k, vv := range info.Header {
			dst[k] = vv
		}
		w.WriteHeader(info.StatusCode)
		clear(dst)
	}
	removeHopByHop(res.Header)
	for k, vv := range res.Header {
		if prior, ok := dst[k]; ok {
			dst[k] = append(prior, vv...)
		} else {
			dst[k] = vv
		}
	}
	announced := len(res.Trailer)
	if announced > 0 {
		keys := make([]string, 0, announced)
		for k := range res.Trailer {
			keys = append(keys, k)
		}
		dst.Add("Trailer", strings.Join(keys, ", "))
	}
	w.WriteHeader(res.StatusCode)

	flush := res.ContentLength == -1 || isEventStream(res.Header["Content-Type"])
	rc := http.NewResponseController(w)
	buf := p.bufs.Get()
	defer p.bufs.Put(buf)
	for {
		n, rerr := res.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return false, false
			}
			if flush {
				if err := rc.Flush(); err != nil {
					return false, false
				}
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			p.log.Warn("origin response body", "err", rerr)
			return false, false
		}
	}
	res.Body.Close() // populates res.Trailer
	if len(res.Trailer) > 0 {
		// Force chunking so net/http sends the trailers.
		rc.Flush()
		if len(res.Trailer) == announced {
			for k, vv := range res.Trailer {
				dst[k] = append(dst[k], vv...)
			}
		} else {
			for k, vv := range res.Trailer {
				dst[http.TrailerPrefix+k] = append(dst[http.TrailerPrefix+k], vv...)
			}
		}
	}
	// A body that ends on the connection's close, a close asked for, or
	// bytes after the framed end: never reused.
	framed := res.Body == http.NoBody || res.ContentLength >= 0 || isChunked(res.TransferEncoding)
	return true, !res.Close && framed && oc.br.Buffered() == 0
}

func isChunked(te []string) bool { return len(te) == 1 && te[0] == "chunked" }

func isEventStream(ct []string) bool {
	if len(ct) == 0 {
		return false
	}
	base, _, _ := strings.Cut(ct[0], ";")
	return strings.EqualFold(strings.TrimSpace(base), "text/event-stream")
}

func (p *fastProxy) fail(w http.ResponseWriter, r *http.Request, err error) {
	if p.onOriginError != nil {
		p.onOriginError(r, err)
	}
	p.log.Warn("origin request failed", "method", r.Method, "host", r.Host, "path", r.URL.Path, "err", err)
	http.Error(w, "502 Bad Gateway: the origin could not be reached", http.StatusBadGateway)
}

// writeRequest writes the request line and header (no body: the fast path
// has none) and flushes them in one write.
func (p *fastProxy) writeRequest(oc *originConn, r *http.Request, xf *xForwarded) error {
	bw := oc.bw
	bw.WriteString(r.Method)
	bw.WriteByte(' ')
	bw.WriteString(r.URL.EscapedPath())
	if r.URL.ForceQuery || r.URL.RawQuery != "" {
		bw.WriteByte('?')
		bw.WriteString(r.URL.RawQuery)
	}
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(p.host)
	bw.WriteString("\r\n")
	for k, vv := range r.Header {
		switch k {
		case "Host", "Content-Length":
			continue
		}
		for _, v := range vv {
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(textproto.TrimString(v))
			bw.WriteString("\r\n")
		}
	}
	if xf != nil {
		if xf.forIP != "" {
			bw.WriteString("X-Forwarded-For: ")
			bw.WriteString(xf.forIP)
			bw.WriteString("\r\n")
		}
		bw.WriteString("X-Forwarded-Host: ")
		bw.WriteString(xf.host)
		bw.WriteString("\r\nX-Forwarded-Proto: ")
		bw.WriteString(xf.proto)
		bw.WriteString("\r\n")
	}
	bw.WriteString("\r\n")
	return bw.Flush()
}

// fastEligible reports whether r can take the fast path: a replayable
// method, no body, an origin-form path, a query ReverseProxy would pass
// unchanged, and no hop-by-hop header but "Connection: keep-alive" or
// "close".
func fastEligible(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
	default:
		return false
	}
	if r.ContentLength != 0 || r.URL.Opaque != "" || r.URL.Path == "" || r.URL.Path[0] != '/' || !queryClean(r.URL.RawQuery) {
		return false
	}
	h := r.Header
	for _, n := range [...]string{"Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade", "Expect"} {
		if _, ok := h[n]; ok {
			return false
		}
	}
	return httpfield.OnlyKeepAliveOrClose(h["Connection"])
}

// queryClean reports whether ReverseProxy would pass q unchanged: no ";"
// and every "%" followed by two hex digits.
func queryClean(q string) bool {
	for i := 0; i < len(q); i++ {
		switch q[i] {
		case ';':
			return false
		case '%':
			if i+2 >= len(q) || !isHex(q[i+1]) || !isHex(q[i+2]) {
				return false
			}
			i += 2
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// checkHeader rejects what http.Transport rejects before sending: a field
// name that is not an RFC 9110 token, a value with a control character
// other than tab.
func checkHeader(h http.Header) error {
	for k, vv := range h {
		if !httpfield.ValidName(k) {
			return fmt.Errorf("invalid header field name %q", k)
		}
		for _, v := range vv {
			if !httpfield.ValidValue(v) {
				return fmt.Errorf("invalid header field value for %q", k)
			}
		}
	}
	return nil
}

// removeHopByHop is httputil's removeHopByHopHeaders for responses.
func removeHopByHop(h http.Header) {
	for _, f := range h["Connection"] {
		for sf := range strings.SplitSeq(f, ",") {
			if sf = textproto.TrimString(sf); sf != "" {
				h.Del(sf)
			}
		}
	}
	for _, f := range [...]string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
		"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"} {
		delete(h, f)
	}
}
