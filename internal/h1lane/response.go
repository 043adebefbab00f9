package h1lane

import (
	"fmt"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// bodyBuffer is how much body net/http holds back before it writes the
// header (bufferBeforeChunkingSize): enough to sniff a Content-Type and,
// when the handler ends within it, to send a Content-Length instead of
// chunking.
const bodyBuffer = 2048

// response is the lane's http.ResponseWriter. Its framing follows net/http's
// chunkWriter.writeHeader rule for rule (for HTTP/1.1 requests without a
// body): automatic Content-Length for a body that ends within the first
// 2 KiB, chunked otherwise, Content-Type sniffed from the first bytes,
// Date added, no body for HEAD, 1xx, 204 and 304, trailers declared with
// "Trailer" or set with http.TrailerPrefix, "Connection: close" when the
// connection ends after the response.
type response struct {
	c   *conn
	req *http.Request

	header http.Header
	// sent is the header as WriteHeader saw it, when the header block is
	// written later (net/http clones it then, so later changes are not sent).
	sent          http.Header
	status        int
	wroteHeader   bool // the final WriteHeader happened
	headerOut     bool // the header block is in the connection's buffer
	contentLength int64
	written       int64
	chunked       bool
	closeAfter    bool
	handlerDone   bool
	trailers      []string // declared in "Trailer"
	err           error    // the connection failed; the response is lost
}

func (w *response) reset(r *http.Request) {
	h := w.header
	if h == nil {
		h = make(http.Header, 8)
	} else {
		clear(h)
	}
	*w = response{c: w.c, req: r, header: h, contentLength: -1, closeAfter: r.Close}
	w.c.body.Reset(chunkWriter{w})
}

func (w *response) Header() http.Header { return w.header }

// WriteHeader sends 1xx responses at once and notes a final status; its
// header block goes out with the first body bytes, a Flush or the end.
func (w *response) WriteHeader(code int) {
	if w.wroteHeader {
		w.c.logf("http: superfluous response.WriteHeader call")
		return
	}
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		// RFC 8297: the header map is not cleared after a 1xx.
		w.writeStatusLine(code)
		w.header.WriteSubset(w.c.bw, excludedNoBody)
		w.c.bw.WriteString("\r\n")
		w.fail(w.c.bw.Flush())
		return
	}
	w.wroteHeader = true
	w.status = code
	if cl := w.header.Get("Content-Length"); cl != "" {
		if v, err := strconv.ParseInt(cl, 10, 64); err == nil && v >= 0 {
			w.contentLength = v
		} else {
			// net/http took its copy before dropping the bad value (it is
			// not sent: the response is chunked).
			w.c.logf("http: invalid Content-Length of %q", cl)
			w.sent = w.header.Clone()
			w.header.Del("Content-Length")
			return
		}
	}
	if w.headerNeedsNoBody() {
		w.writeHeader(nil)
		return
	}
	w.sent = w.header.Clone()
}

// headerNeedsNoBody reports whether the header block can be written
// without seeing the body: no Content-Length to compute, no Content-Type to
// sniff, no trailers. The common proxied response (Content-Length and
// Content-Type from the origin) is written at once, with no copy.
func (w *response) headerNeedsNoBody() bool {
	h := w.header
	if _, ok := h["Trailer"]; ok {
		return false
	}
	for k := range h {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			return false
		}
	}
	if !bodyAllowed(w.status) {
		return true
	}
	if _, ok := h["Transfer-Encoding"]; ok || w.contentLength < 0 {
		return false
	}
	_, haveType := h["Content-Type"]
	return haveType || h.Get("Content-Encoding") != ""
}

func (w *response) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.err != nil {
		return 0, w.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	w.written += int64(len(p))
	if w.contentLength != -1 && w.written > w.contentLength {
		return 0, http.ErrContentLength
	}
	n, err := w.c.body.Write(p)
	w.fail(err)
	return n, err
}

// chunkWriter is net/http's: it receives the body from the 2 KiB buffer
// (conn.body), writes the header block before the first bytes, and frames
// each write as a chunk when chunking.
type chunkWriter struct{ w *response }

func (cw chunkWriter) Write(p []byte) (int, error) {
	w := cw.w
	w.writeHeader(p)
	if w.req.Method == http.MethodHead || w.err != nil {
		return len(p), w.err // HEAD: the body is eaten
	}
	bw := w.c.bw
	if w.chunked {
		var hex [16]byte
		bw.Write(strconv.AppendInt(hex[:0], int64(len(p)), 16))
		bw.WriteString("\r\n")
		bw.Write(p)
		_, err := bw.WriteString("\r\n")
		w.fail(err)
		return len(p), w.err
	}
	_, err := bw.Write(p)
	w.fail(err)
	return len(p), w.err
}

func (w *response) fail(err error) {
	if err != nil && w.err == nil {
		w.err = err
		w.closeAfter = true
	}
}

// Flush sends the header (chunked, unless a Content-Length was set) and
// whatever body is buffered.
func (w *response) Flush() { _ = w.FlushError() }

// FlushError is Flush for http.ResponseController.
func (w *response) FlushError() error {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	w.fail(w.c.body.Flush())
	w.writeHeader(nil)
	if w.err == nil {
		w.fail(w.c.bw.Flush())
	}
	return w.err
}

// SetReadDeadline and SetWriteDeadline are for http.ResponseController.
func (w *response) SetReadDeadline(t time.Time) error { return w.c.setReadDeadline(t) }

func (w *response) SetWriteDeadline(t time.Time) error { return w.c.tc.SetWriteDeadline(t) }

// finish ends the response after the handler returned: the buffered body
// (with the header, if not yet sent), the last chunk and trailers, and one
// flush.
func (w *response) finish() error {
	w.handlerDone = true
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	w.fail(w.c.body.Flush())
	w.writeHeader(nil)
	if w.chunked && w.err == nil {
		bw := w.c.bw
		bw.WriteString("0\r\n")
		if t := w.finalTrailers(); t != nil {
			t.Write(bw)
		}
		bw.WriteString("\r\n")
	}
	if w.req.Method != http.MethodHead && w.contentLength != -1 && bodyAllowed(w.status) && w.contentLength != w.written {
		w.closeAfter = true // too few bytes: the client would read the next response as body
	}
	if w.err == nil {
		w.fail(w.c.bw.Flush())
	}
	return w.err
}

// finalTrailers is net/http's: the http.TrailerPrefix keys and the
// declared ones, with the values the handler set last.
func (w *response) finalTrailers() http.Header {
	var t http.Header
	for k, vv := range w.header {
		if kk, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
			if t == nil {
				t = make(http.Header)
			}
			t[kk] = vv
		}
	}
	for _, k := range w.trailers {
		if t == nil {
			t = make(http.Header)
		}
		for _, v := range w.header[k] {
			t.Add(k, v)
		}
	}
	return t
}

// writeHeader puts the status line and header block in the connection's
// buffer, deciding the framing as net/http's chunkWriter.writeHeader does;
// p is the body held back so far.
func (w *response) writeHeader(p []byte) {
	if w.headerOut {
		return
	}
	w.headerOut = true
	header := w.sent
	if header == nil {
		header = w.header
	}
	var exclude map[string]bool
	del := func(k string) {
		if _, ok := header[k]; !ok {
			return
		}
		if exclude == nil {
			exclude = map[string]bool{}
		}
		exclude[k] = true
	}
	var extra struct {
		contentType, connection, transferEncoding string
		date, contentLength                       []byte
	}
	isHEAD := w.req.Method == http.MethodHead

	hasTrailers := false
	for k := range header {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			del(k)
			hasTrailers = true
		}
	}
	for _, v := range header["Trailer"] {
		hasTrailers = true
		for _, k := range strings.Split(v, ",") {
			if k = textproto.TrimString(k); k != "" {
				if k = http.CanonicalHeaderKey(k); !badTrailer[k] && !strings.HasPrefix(k, "If-") {
					w.trailers = append(w.trailers, k)
				}
			}
		}
	}
	te := header.Get("Transfer-Encoding")
	hasTE := te != ""
	var clBuf [20]byte
	if w.handlerDone && !hasTrailers && !hasTE && bodyAllowed(w.status) && header.Get("Content-Length") == "" && (!isHEAD || len(p) > 0) {
		w.contentLength = int64(len(p))
		extra.contentLength = strconv.AppendInt(clBuf[:0], int64(len(p)), 10)
	}
	hasCL := w.contentLength != -1
	if header.Get("Connection") == "close" || w.c.l.closing.Load() {
		w.closeAfter = true
	}
	if bodyAllowed(w.status) {
		_, haveType := header["Content-Type"]
		if header.Get("Content-Encoding") == "" && !haveType && !hasTE && len(p) > 0 {
			extra.contentType = http.DetectContentType(p)
		}
	} else {
		for _, k := range suppressedHeaders(w.status) {
			del(k)
		}
	}
	if _, ok := header["Date"]; !ok {
		extra.date = w.c.l.date.now()
	}
	if hasCL && hasTE && te != "identity" {
		w.c.logf("http: WriteHeader called with both Transfer-Encoding of %q and a Content-Length of %d", te, w.contentLength)
		del("Content-Length")
		hasCL = false
	}
	switch {
	case isHEAD || !bodyAllowed(w.status):
		del("Transfer-Encoding")
	case hasCL:
		del("Transfer-Encoding")
	case hasTE && te == "identity":
		w.closeAfter = true
		del("Transfer-Encoding")
	default:
		w.chunked = true
		extra.transferEncoding = "chunked"
		if hasTE && te == "chunked" {
			del("Transfer-Encoding")
		}
	}
	if w.chunked {
		del("Content-Length")
	}
	if w.closeAfter && !hasToken(header.Get("Connection"), "close") {
		del("Connection")
		extra.connection = "close"
	}

	bw := w.c.bw
	w.writeStatusLine(w.status)
	header.WriteSubset(bw, exclude)
	if extra.date != nil {
		bw.WriteString("Date: ")
		bw.Write(extra.date)
		bw.WriteString("\r\n")
	}
	if extra.contentLength != nil {
		bw.WriteString("Content-Length: ")
		bw.Write(extra.contentLength)
		bw.WriteString("\r\n")
	}
	for _, kv := range [...][2]string{{"Content-Type", extra.contentType}, {"Connection", extra.connection},
		{"Transfer-Encoding", extra.transferEncoding}} {
		if kv[1] != "" {
			bw.WriteString(kv[0])
			bw.WriteString(": ")
			bw.WriteString(kv[1])
			bw.WriteString("\r\n")
		}
	}
	_, err := bw.WriteString("\r\n")
	w.fail(err)
}

func (w *response) writeStatusLine(code int) {
	bw := w.c.bw
	bw.WriteString("HTTP/1.1 ")
	if text := http.StatusText(code); text != "" {
		var b [3]byte
		bw.Write(strconv.AppendInt(b[:0], int64(code), 10))
		bw.WriteByte(' ')
		bw.WriteString(text)
		bw.WriteString("\r\n")
		return
	}
	fmt.Fprintf(bw, "%03d status code %d\r\n", code, code)
}

// bodyAllowed is net/http's bodyAllowedForStatus.
func bodyAllowed(status int) bool {
	switch {
	case status >= 100 && status <= 199, status == http.StatusNoContent, status == http.StatusNotModified:
		return false
	}
	return true
}

var excludedNoBody = map[string]bool{"Content-Length": true, "Transfer-Encoding": true}

func suppressedHeaders(status int) []string {
	switch {
	case status == http.StatusNotModified:
		return []string{"Content-Type", "Content-Length", "Transfer-Encoding"}
	case !bodyAllowed(status):
		return []string{"Content-Length", "Transfer-Encoding"}
	}
	return nil
}

// badTrailer is httpguts' list of fields that may not be trailers.
var badTrailer = map[string]bool{
	"Authorization": true, "Cache-Control": true, "Connection": true, "Content-Encoding": true,
	"Content-Length": true, "Content-Range": true, "Content-Type": true, "Expect": true, "Host": true,
	"Keep-Alive": true, "Max-Forwards": true, "Pragma": true, "Proxy-Authenticate": true,
	"Proxy-Authorization": true, "Proxy-Connection": true, "Range": true, "Realm": true, "Te": true,
	"Trailer": true, "Transfer-Encoding": true, "Www-Authenticate": true,
}

// hasToken reports whether token is one of v's comma-separated elements
// (ASCII case-insensitively), as net/http's hasToken.
func hasToken(v, token string) bool {
	for tok := range strings.SplitSeq(v, ",") {
		if strings.EqualFold(textproto.TrimString(tok), token) {
			return true
		}
	}
	return false
}

// dateCache formats the Date header once per second.
type dateCache struct{ v atomic.Pointer[dateValue] }

type dateValue struct {
	sec int64
	b   []byte
}

func (d *dateCache) now() []byte {
	t := time.Now()
	if v := d.v.Load(); v != nil && v.sec == t.Unix() {
		return v.b
	}
	v := &dateValue{sec: t.Unix(), b: t.UTC().AppendFormat(nil, http.TimeFormat)}
	d.v.Store(v)
	return v.b
}
