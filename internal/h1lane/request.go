package h1lane

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/certsight/certsight/internal/httpfield"
)

// errHandBack says the next request is not the lane's: its bytes go back
// to net/http.
var errHandBack = errors.New("request handed back to net/http")

// readRequest waits for the next request and parses it when it is plain;
// errHandBack when it is not (its bytes are still in c.br), another error
// when the connection is done (closed, timed out, shutting down).
func (c *conn) readRequest() (*http.Request, error) {
	// As net/http: wait (under the idle timeout) for four bytes of the
	// next request; fewer and the connection ends silently.
	if c.br.Buffered() < 4 {
		if err := c.waitDeadline(time.Now(), c.l.o.IdleTimeout); err != nil {
			return nil, err
		}
		// Shutdown sets closing, then closes the connections it sees idle:
		// one of the two sees the other.
		c.idle.Store(true)
		if c.l.closing.Load() {
			return nil, errShutdown
		}
		_, err := c.br.Peek(4)
		c.idle.Store(false)
		if err != nil {
			return nil, err
		}
	}
	head, err := c.peekHead()
	if err != nil {
		return nil, err
	}
	// Parsed from a copy, so a request handed back leaves c.br untouched.
	c.head.Reset(head)
	c.hr.Reset(&c.head)
	r, err := http.ReadRequest(c.hr)
	if err != nil || c.hr.Buffered() != 0 || !c.plainHead(r) {
		return nil, errHandBack // net/http answers it, 400 included
	}
	c.br.Discard(len(head))
	r.RemoteAddr = c.remoteAddr
	r.TLS = c.tls
	return r.WithContext(c.ctx), nil
}

var errShutdown = errors.New("lane shutting down")

// peekHead returns the buffered bytes of the next request's head, through
// its blank line, reading more (under ReadHeaderTimeout) while it is
// incomplete. Whatever net/http would answer differently from waiting for
// a CRLF-ended head is handed back (errHandBack) as soon as it shows: a
// head that does not fit the buffer, a line ended by a bare LF, a complete
// line net/http already refuses, and a head cut short by a read error
// (net/http answers those with 400; readRequest already has four bytes).
func (c *conn) peekHead() ([]byte, error) {
	timed := false
	for {
		buf, _ := c.br.Peek(c.br.Buffered())
		if i := bytes.Index(buf, crlfcrlf); i >= 0 {
			head := buf[:i+4]
			// Every LF after a CR: then http.ReadRequest ends the head
			// exactly where this search did.
			if bytes.Count(head, lf) != bytes.Count(head, crlf) {
				return nil, errHandBack
			}
			return head, nil
		}
		if c.br.Buffered() >= c.br.Size() || bytes.Count(buf, lf) != bytes.Count(buf, crlf) || refusedSoFar(buf) {
			return nil, errHandBack
		}
		if !timed && c.l.o.ReadHeaderTimeout > 0 {
			if err := c.setReadDeadline(time.Now().Add(c.l.o.ReadHeaderTimeout)); err != nil {
				return nil, err
			}
			timed = true
		}
		if _, err := c.br.Peek(c.br.Buffered() + 1); err != nil {
			return nil, errHandBack // net/http answers what it has
		}
	}
}

// refusedSoFar reports whether the complete lines of an unfinished head
// already fail http.ReadRequest (a malformed request line, a header line
// without a colon): net/http answers 400 without waiting for the rest.
func refusedSoFar(partial []byte) bool {
	end := bytes.LastIndex(partial, crlf)
	if end < 0 {
		return false
	}
	_, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(partial[:end+2])))
	return err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF)
}

var (
	crlfcrlf = []byte("\r\n\r\n")
	crlf     = []byte("\r\n")
	lf       = []byte("\n")
)

// plain reports whether r is a request the lane answers exactly as
// net/http would: no body, no Upgrade, no Expect, no Transfer-Encoding,
// an origin-form target, Connection naming only keep-alive or close.
func plain(r *http.Request) bool {
	if r.Method == http.MethodConnect || r.ContentLength != 0 || len(r.TransferEncoding) > 0 ||
		(r.Body != nil && r.Body != http.NoBody) || !strings.HasPrefix(r.RequestURI, "/") {
		return false
	}
	h := r.Header
	for _, n := range [...]string{"Upgrade", "Expect", "Transfer-Encoding", "Te", "Http2-Settings"} {
		if _, ok := h[n]; ok {
			return false
		}
	}
	return httpfield.OnlyKeepAliveOrClose(h["Connection"])
}

// plainHead adds to plain the checks net/http's server makes after
// http.ReadRequest (a valid Host, valid header names and values), for a
// request the lane parsed itself.
func (c *conn) plainHead(r *http.Request) bool {
	if r.ProtoMajor != 1 || r.ProtoMinor != 1 || !plain(r) {
		return false
	}
	// http.ReadRequest refused several Host fields and took the one into
	// r.Host; an empty or missing one goes to net/http to judge.
	if r.Host == "" || !httpfield.ValidHost(r.Host) {
		return false
	}
	for k, vv := range r.Header {
		if !httpfield.ValidName(k) {
			return false
		}
		for _, v := range vv {
			if !httpfield.ValidValue(v) {
				return false
			}
		}
	}
	return true
}

// handBack gives the connection to net/http with everything the client
// sent that the lane has not answered; it reports whether the server took
// it.
func (c *conn) handBack() bool {
	rest, _ := c.br.Peek(c.br.Buffered())
	hc := &handoffConn{Conn: c.tc, pending: bytes.Clone(rest)}
	// net/http sets its own deadlines from here.
	_ = c.tc.SetReadDeadline(time.Time{})
	return c.l.handoff.give(hc)
}

// bufioSize is the buffer size net/http's server uses; a head larger than
// it goes to net/http (its limit is MaxHeaderBytes).
const bufioSize = 4096

// headLineBuffer is the parse buffer for a copied head.
const headLineBuffer = 1024
