// Package h1lane serves plain HTTP/1.1 keep-alive requests on a TLS
// connection without net/http's per-request machinery, and gives
// everything else back to net/http.
//
// net/http's server spends more CPU per request than a proxy's own work:
// a background-read goroutine and an extra read system call per request
// (to notice a client that goes away), four or five deadline updates, a
// cancellable context and a response of several hundred bytes. For an
// edge whose requests are mostly small GETs on kept-alive connections that
// is most of its user-space CPU. The lane takes such a connection over
// (http.Hijacker) at its first plain request and serves it and the ones
// after it in the same goroutine: http.ReadRequest parses, the same
// handler answers, a response writer with net/http's framing writes.
//
// The lane only takes what it handles exactly as net/http would: HTTP/1.1
// over TLS, no request body, no Upgrade, no Expect, no Transfer-Encoding,
// an origin-form target, a head that fits its buffer and passes net/http's
// own checks. Anything else — HTTP/2 (never taken), HTTP/1.0, a POST, a
// WebSocket upgrade, a malformed or oversized head — is handed back:
// the raw bytes of that request and everything after it go to the same
// http.Server through Listener, which then serves the rest of the
// connection, errors (400, 431) included.
//
// Differences from net/http, on the lane only: a client that disconnects
// while the origin is answering is noticed when the response is written
// (net/http cancels the request's context at once); the keep-alive idle
// deadline is refreshed at most every eighth of IdleTimeout, so an idle
// connection is closed between 7/8 and 8/8 of it; ConnState reports
// StateNew when the lane takes a connection over (net/http reported
// StateHijacked) and StateClosed when it ends, without Active/Idle in
// between.
package h1lane

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"log"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/certsight/certsight/internal/deadline"
)

// Options configure a Lane. The timeouts mean what http.Server's fields
// of the same names mean.
type Options struct {
	// ReadHeaderTimeout bounds reading a request's head once its first
	// bytes arrived; IdleTimeout the wait for the next request.
	ReadHeaderTimeout time.Duration
	IdleTimeout       time.Duration
	// ConnState, if set, is told when the lane takes a connection over
	// (StateNew) and when it closes it (StateClosed).
	ConnState func(net.Conn, http.ConnState)
	// ErrorLog receives handler panics as net/http logs them.
	ErrorLog *log.Logger
}

// Lane is an http.Handler that takes plain HTTP/1.1 connections over from
// the http.Server it is the handler of, and a listener that hands
// connections back to that server.
type Lane struct {
	next    http.Handler
	o       Options
	handoff *handoffListener
	date    dateCache

	mu      sync.Mutex
	conns   map[*conn]struct{}
	closing atomic.Bool
	wg      sync.WaitGroup
}

// New returns a Lane serving requests with next. Serve the same
// http.Server on Listener() too (srv.Serve(lane.Listener()) in a
// goroutine), or nothing the lane gives back is served.
func New(next http.Handler, o Options) *Lane {
	return &Lane{next: next, o: o, handoff: newHandoffListener(), conns: map[*conn]struct{}{}}
}

// Listener yields the connections the lane hands back to net/http. Its
// Close (http.Server.Shutdown/Close closes it) ends the lane's own
// Accept; connections already handed over belong to the server.
func (l *Lane) Listener() net.Listener { return l.handoff }

// ConnContext marks the connections the lane may take over: those the
// server accepted as a *tls.Conn (not the ones handed back, nor plain
// ones). Chain it into http.Server.ConnContext; without it the lane takes
// nothing over.
func (l *Lane) ConnContext(ctx context.Context, c net.Conn) context.Context {
	if _, ok := c.(*tls.Conn); ok {
		return context.WithValue(ctx, takeoverKey{}, true)
	}
	return ctx
}

type takeoverKey struct{}

// ServeHTTP is the server's handler: it serves r through next, taking the
// connection over first when r is a plain HTTP/1.1 request.
func (l *Lane) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor != 1 || r.ProtoMinor != 1 || !plain(r) || l.closing.Load() ||
		r.Context().Value(takeoverKey{}) == nil {
		l.next.ServeHTTP(w, r)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok || !l.enter() {
		l.next.ServeHTTP(w, r)
		return
	}
	nc, rw, err := hj.Hijack()
	if err != nil {
		l.wg.Done()
		l.next.ServeHTTP(w, r)
		return
	}
	tc, ok := nc.(*tls.Conn)
	if !ok {
		// Not reachable: ConnContext marked a *tls.Conn. The response is
		// lost; never leave the connection hanging.
		l.wg.Done()
		nc.Close()
		l.logf("h1lane: hijacked %T, not a *tls.Conn; closed", nc)
		return
	}
	c := l.newConn(r.Context(), tc, rw.Reader, r)
	c.serve(r.WithContext(c.ctx))
}

// enter counts a connection about to be taken over, unless shutdown has
// begun (so Shutdown's wait never races a new one).
func (l *Lane) enter() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closing.Load() {
		return false
	}
	l.wg.Add(1)
	return true
}

func (l *Lane) newConn(ctx context.Context, tc *tls.Conn, hijacked *bufio.Reader, r *http.Request) *conn {
	// net/http's reader reads through its connReader (a lock per read);
	// the lane reads the TLS connection itself, after what net/http had
	// read ahead (a pipelined request).
	ahead, _ := hijacked.Peek(hijacked.Buffered())
	src := &handoffConn{Conn: tc, pending: bytes.Clone(ahead)}
	c := &conn{l: l, tc: tc, br: bufio.NewReaderSize(src, bufioSize), bw: bufio.NewWriterSize(tc, bufioSize),
		tls: r.TLS, remoteAddr: r.RemoteAddr, hr: bufio.NewReaderSize(nil, headLineBuffer)}
	// The requests' context: the connection's values, cancelled by Close
	// (net/http also cancels a request when its client goes; the lane
	// notices that when it writes the response).
	c.ctx, c.cancel = context.WithCancel(context.WithoutCancel(ctx))
	c.w.c = c
	c.body = bufio.NewWriterSize(chunkWriter{&c.w}, bodyBuffer)
	l.mu.Lock()
	l.conns[c] = struct{}{}
	l.mu.Unlock()
	if l.o.ConnState != nil {
		l.o.ConnState(tc, http.StateNew)
	}
	// A Shutdown that began since enter did not see this connection: serve
	// checks closing after each response and before each wait.
	return c
}

// BeginShutdown stops taking connections over and closes the idle ones;
// the busy ones close after their current response, which says
// "Connection: close". For http.Server.RegisterOnShutdown.
func (l *Lane) BeginShutdown() {
	l.mu.Lock()
	l.closing.Store(true)
	for c := range l.conns {
		if c.idle.Load() {
			c.tc.NetConn().Close() // wakes its read; no response is lost
		}
	}
	l.mu.Unlock()
}

// Shutdown is BeginShutdown, then waits until every connection the lane
// held is closed or ctx ends.
func (l *Lane) Shutdown(ctx context.Context) error {
	l.BeginShutdown()
	done := make(chan struct{})
	go func() { l.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close closes every connection the lane holds and cancels the contexts
// of the requests still running.
func (l *Lane) Close() {
	l.closing.Store(true)
	l.mu.Lock()
	for c := range l.conns {
		c.cancel()
		c.tc.NetConn().Close()
	}
	l.mu.Unlock()
}

// conn is one connection the lane serves.
type conn struct {
	l          *Lane
	tc         *tls.Conn
	br         *bufio.Reader
	bw         *bufio.Writer
	ctx        context.Context // the server's and ConnContext's values; cancelled by Close
	cancel     context.CancelFunc
	tls        *tls.ConnectionState
	remoteAddr string
	w          response
	// deadline is the read deadline last set; idle says the connection
	// waits for a request (Shutdown may close it).
	deadline deadline.Lazy
	idle     atomic.Bool
	// head and hr parse a copy of the request's head (hr's buffer only
	// needs to hold most lines: textproto joins longer ones).
	head bytes.Reader
	hr   *bufio.Reader
	// body buffers a response's body before chunkWriter, as net/http's
	// response.w does.
	body *bufio.Writer
}

// serve answers first (already read by net/http) and then every request
// after it until the connection ends or is handed back.
func (c *conn) serve(first *http.Request) {
	handedBack := false
	defer func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
		if !handedBack {
			c.tc.Close()
		}
		c.cancel()
		if c.l.o.ConnState != nil {
			// Handed back, net/http reports StateNew for it next.
			c.l.o.ConnState(c.tc, http.StateClosed)
		}
		c.l.wg.Done()
	}()
	r := first
	for {
		if !c.answer(r) || c.l.closing.Load() {
			return
		}
		next, err := c.readRequest()
		if err != nil {
			if errors.Is(err, errHandBack) {
				handedBack = c.handBack()
			}
			return
		}
		r = next
	}
}

// answer runs the handler for r and finishes its response; it reports
// whether the connection may carry another request.
func (c *conn) answer(r *http.Request) (keep bool) {
	w := &c.w
	w.reset(r)
	defer func() {
		if v := recover(); v != nil {
			keep = false
			if v != http.ErrAbortHandler {
				buf := make([]byte, 64<<10)
				buf = buf[:runtime.Stack(buf, false)]
				c.logf("http: panic serving %v: %v\n%s", c.remoteAddr, v, buf)
			}
		}
	}()
	c.l.next.ServeHTTP(w, r)
	if c.l.closing.Load() {
		w.closeAfter = true
	}
	if err := w.finish(); err != nil {
		return false
	}
	return !w.closeAfter
}

func (c *conn) logf(format string, args ...any) { c.l.logf(format, args...) }

func (l *Lane) logf(format string, args ...any) {
	if l.o.ErrorLog != nil {
		l.o.ErrorLog.Printf(format, args...)
		return
	}
	log.Printf(format, args...)
}

// setReadDeadline sets the connection's read deadline to t.
func (c *conn) setReadDeadline(t time.Time) error {
	c.deadline.Set(t)
	return c.tc.SetReadDeadline(t)
}

// waitDeadline bounds the wait for the next request by about d (none for
// d <= 0), moving the deadline only every eighth of d (deadline.Lazy).
func (c *conn) waitDeadline(now time.Time, d time.Duration) error {
	if d <= 0 {
		if c.deadline.At().IsZero() {
			return nil
		}
		return c.setReadDeadline(time.Time{})
	}
	if t, move := c.deadline.Ahead(now, d); move {
		return c.tc.SetReadDeadline(t)
	}
	return nil
}
