package h1lane

import (
	"crypto/tls"
	"errors"
	"io"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fuzzFirst opens every fuzzed connection: a plain request, which the lane
// takes the connection over at, so the fuzzed bytes after it go through the
// lane's own parsing, hand-back and response paths.
var fuzzFirst = req("GET", "/echo")

// fuzzMaxInput caps an input: heads past the lane's 4 KiB buffer are
// handed back already, and big inputs only make execs slow.
const fuzzMaxInput = 8 << 10

// FuzzParity sends fuzzFirst and then the input over one TLS connection to
// a plain net/http server and to one with the lane, and wants the same
// bytes back from both.
//
// The client half-closes (TLS close_notify) after writing, so both servers
// see EOF where the input ends, instead of waiting for their 1 s timeouts:
// net/http and the lane both end a connection that is waiting for its next
// request at EOF without a word, and both answer a head cut short by EOF
// with 400 (corpus entry 06ba4bdb19de593e, found this way: the lane used to
// close silently; bare_lf_head_last, a bare-LF head net/http answers at
// once, used to wait for a CRLFCRLF).
func FuzzParity(f *testing.F) {
	names := make([]string, 0, len(handlers))
	for name := range handlers {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		f.Add([]byte(req("GET", "/"+name) + req("HEAD", "/"+name) + req("GET", "/"+name)))
	}
	f.Add([]byte(""))
	f.Add([]byte(req("GET", "/echo", closing) + req("GET", "/small")))

	plainSrv, _ := server(f, mux(), false, Options{})
	laneSrv, _ := server(f, mux(), true, Options{})
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > fuzzMaxInput {
			t.Skip("input over fuzzMaxInput")
		}
		raw := fuzzFirst + string(in)
		// Both at once: an input that leaves a connection open costs one
		// timeout, not two.
		wantc := make(chan string, 1)
		go func() { wantc <- fuzzExchange(t, plainSrv, raw) }()
		got := fuzzExchange(t, laneSrv, raw)
		want := <-wantc
		// A server that closes with unread input makes the kernel send a
		// reset, which may discard what the client had not read yet: then
		// only the part both transcripts have is compared.
		gotCut, wantCut := strings.CutSuffix(got, reset)
		wantCut2, wantReset := strings.CutSuffix(want, reset)
		if wantCut || wantReset {
			n := min(len(gotCut), len(wantCut2))
			gotCut, wantCut2 = gotCut[:n], wantCut2[:n]
		}
		if gotCut != wantCut2 {
			t.Errorf("transcripts differ for input %q\nnet/http: %q\nlane:     %q", in, want, got)
		}
	})
}

// fuzzClientConfig resumes TLS sessions and uses X25519 alone, to keep the
// handshakes (two per exec) cheap.
var fuzzClientConfig = &tls.Config{
	InsecureSkipVerify: true,
	NextProtos:         []string{"http/1.1"},
	ClientSessionCache: tls.NewLRUClientSessionCache(64),
	CurvePreferences:   []tls.CurveID{tls.X25519},
}

// fuzzExchange is exchange (lane_test.go) for any goroutine: it sends raw
// over one TLS connection, half-closes it, and returns everything the
// server sends until it closes, Date values blanked. A connection still
// open at the client's deadline (well past the servers' 1 s timeouts) is
// marked as such.
func fuzzExchange(t testing.TB, srv *httptest.Server, raw string) string {
	c, err := tls.Dial("tcp", srv.Listener.Addr().String(), fuzzClientConfig)
	if err != nil {
		t.Error(err) // Fatal is for the test's own goroutine
		return "[dial: " + err.Error() + "]"
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	// Read while writing: what a server sends before it closes is taken
	// before a reset can discard it.
	type result struct {
		out []byte
		err error
	}
	readc := make(chan result, 1)
	go func() {
		out, err := io.ReadAll(c)
		readc <- result{out, err}
	}()
	if _, err := io.WriteString(c, raw); err == nil {
		c.CloseWrite()
	}
	r := <-readc
	s := dateRe.ReplaceAllString(string(r.out), "Date: <date>\r\n")
	switch {
	case errors.Is(r.err, os.ErrDeadlineExceeded):
		s += "[client deadline]"
	case errors.Is(r.err, syscall.ECONNRESET):
		s += reset
	}
	return s
}

// reset marks a transcript cut by a TCP reset.
const reset = "[reset]"
