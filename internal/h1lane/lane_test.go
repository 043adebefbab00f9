package h1lane

import (
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// handlers answer /<name> in the ways net/http's response framing
// distinguishes; the parity test sends each the same bytes through a plain
// net/http server and through one with the lane, and compares the bytes
// that come back.
var handlers = map[string]http.HandlerFunc{
	"small": func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<html>hello</html>") },
	"typed": func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", "5")
		w.Header().Set("X-Multi", "a")
		w.Header().Add("X-Multi", "b")
		io.WriteString(w, "typed")
	},
	"empty": func(w http.ResponseWriter, r *http.Request) {},
	"exact2048": func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("a", 2048)))
	},
	"over2048": func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("b", 2049)))
	},
	"pieces": func(w http.ResponseWriter, r *http.Request) {
		for i := range 300 {
			fmt.Fprintf(w, "piece %d;", i)
		}
	},
	"flushed": func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first")
		w.(http.Flusher).Flush()
		io.WriteString(w, "second")
	},
	"flushFirst": func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		http.NewResponseController(w).Flush()
		io.WriteString(w, "data: x\n\n")
	},
	"noContent": func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "4")
		w.WriteHeader(http.StatusNoContent)
		_, err := io.WriteString(w, "body")
		w.Header().Set("X-After", fmt.Sprint(err)) // not sent: after WriteHeader
	},
	"notModified": func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Etag", `"x"`)
		w.WriteHeader(http.StatusNotModified)
	},
	"early": func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</a.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "after hints")
	},
	"declaredTrailer": func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Sum, Content-Length, If-Match")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "body")
		w.Header().Set("X-Sum", "42")
	},
	"prefixTrailer": func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "body")
		w.(http.Flusher).Flush()
		w.Header().Set(http.TrailerPrefix+"X-Late", "yes")
	},
	"close": func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		io.WriteString(w, "bye")
	},
	"short": func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "10")
		io.WriteString(w, "12345")
	},
	"long": func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "3")
		_, err := io.WriteString(w, "12345")
		if err == nil {
			panic("want ErrContentLength")
		}
	},
	"badLength": func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "x")
		io.WriteString(w, "hi")
	},
	"identity": func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Transfer-Encoding", "identity")
		io.WriteString(w, "until close")
	},
	"encoded": func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		io.WriteString(w, "not really gzip")
	},
	"oddStatus": func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(599) },
	"twice": func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		w.WriteHeader(http.StatusTeapot)
	},
	"error": func(w http.ResponseWriter, r *http.Request) { http.Error(w, "nope", http.StatusNotFound) },
	"abort": func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "partial")
		panic(http.ErrAbortHandler)
	},
	"dated": func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Date"] = nil // suppressed
		io.WriteString(w, "no date")
	},
	"echo": func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %s host=%q body=%q tls=%v ua=%q", r.Method, r.RequestURI, r.Proto, r.Host, b,
			r.TLS != nil, r.Header.Get("User-Agent"))
	},
}

func mux() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/")
		if h, ok := handlers[name]; ok {
			h(w, r)
			return
		}
		http.NotFound(w, r)
	})
}

// server starts an HTTPS server with h, through a Lane when lane is set.
func server(t testing.TB, h http.Handler, lane bool, o Options) (*httptest.Server, *Lane) {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = true
	srv.Config.ErrorLog = quietLog()
	// A transcript that does not end the connection ends on these.
	srv.Config.ReadHeaderTimeout, srv.Config.IdleTimeout = time.Second, time.Second
	o.ReadHeaderTimeout, o.IdleTimeout = time.Second, time.Second
	srv.Config.ConnState = o.ConnState // the same hook for both, as the edge has
	var l *Lane
	if lane {
		if o.ErrorLog == nil {
			o.ErrorLog = srv.Config.ErrorLog
		}
		l = New(h, o)
		srv.Config.Handler = l
		srv.Config.ConnContext = l.ConnContext
	}
	srv.StartTLS()
	if lane {
		go srv.Config.Serve(l.Listener())
	}
	t.Cleanup(srv.Close)
	return srv, l
}

// exchange sends raw over one TLS connection and returns everything the
// server sends until it closes (Date values blanked).
func exchange(t *testing.T, srv *httptest.Server, raw string) string {
	t.Helper()
	c, err := tls.Dial("tcp", srv.Listener.Addr().String(), &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	require.NoError(t, err)
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	_, err = io.WriteString(c, raw)
	require.NoError(t, err)
	out, _ := io.ReadAll(c) // until the server closes (or the deadline)
	return dateRe.ReplaceAllString(string(out), "Date: <date>\r\n")
}

var dateRe = regexp.MustCompile(`Date: [^\r]*\r\n`)

func req(method, path string, extra ...string) string {
	return method + " " + path + " HTTP/1.1\r\nHost: example.test\r\n" + strings.Join(extra, "") + "\r\n"
}

const closing = "Connection: close\r\n"

func TestParityWithNetHTTP(t *testing.T) {
	plainSrv, _ := server(t, mux(), false, Options{})
	laneSrv, _ := server(t, mux(), true, Options{})
	type tc struct{ name, raw string }
	var cases []tc
	for name := range handlers {
		// The first request is taken over, the second parsed by the lane.
		cases = append(cases,
			tc{"GET " + name, req("GET", "/"+name) + req("GET", "/"+name, closing)},
			tc{"HEAD " + name, req("HEAD", "/"+name) + req("HEAD", "/"+name, closing)})
	}
	cases = append(cases,
		tc{"client asks close", req("GET", "/small", closing) + req("GET", "/small")},
		tc{"query and escapes", req("GET", "/echo?a=1&b=%20") + req("GET", "/echo?x=%zz", closing)},
		tc{"POST is handed back", req("GET", "/echo") + "POST /echo HTTP/1.1\r\nHost: example.test\r\nContent-Length: 3\r\n\r\nabc" + req("GET", "/echo", closing)},
		tc{"chunked body handed back", req("GET", "/echo") + "PUT /echo HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" + req("GET", "/echo", closing)},
		tc{"malformed header", req("GET", "/echo") + "GET /echo HTTP/1.1\r\nHost: example.test\r\nNo colon here\r\n\r\n"},
		tc{"control byte in value", req("GET", "/echo") + "GET /echo HTTP/1.1\r\nHost: example.test\r\nX: a\x01b\r\n\r\n"},
		tc{"bare LF head", req("GET", "/echo") + "GET /echo HTTP/1.1\nHost: example.test\n\n" + req("GET", "/echo", closing)},
		tc{"missing Host", req("GET", "/echo") + "GET /echo HTTP/1.1\r\n\r\n"},
		tc{"empty Host", req("GET", "/echo") + "GET /echo HTTP/1.1\r\nHost:\r\nConnection: close\r\n\r\n"},
		tc{"two Hosts", req("GET", "/echo") + "GET /echo HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"},
		tc{"bad Host", req("GET", "/echo") + "GET /echo HTTP/1.1\r\nHost: a b\r\n\r\n"},
		tc{"HTTP/1.0", req("GET", "/echo") + "GET /echo HTTP/1.0\r\nHost: example.test\r\n\r\n"},
		tc{"absolute form", req("GET", "/echo") + "GET http://other.test/echo HTTP/1.1\r\nHost: example.test\r\n" + closing + "\r\n"},
		tc{"asterisk", req("GET", "/echo") + "OPTIONS * HTTP/1.1\r\nHost: example.test\r\n" + closing + "\r\n"},
		tc{"Expect", req("GET", "/echo") + "POST /echo HTTP/1.1\r\nHost: example.test\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi" + req("GET", "/echo", closing)},
		tc{"Upgrade", req("GET", "/echo") + req("GET", "/echo", "Upgrade: websocket\r\nConnection: Upgrade\r\n") + req("GET", "/echo", closing)},
		tc{"Connection token", req("GET", "/echo") + req("GET", "/echo", "Connection: X-Foo\r\n") + req("GET", "/echo", closing)},
		tc{"big head", req("GET", "/echo") + req("GET", "/echo", "X-Big: "+strings.Repeat("x", 6000)+"\r\n") + req("GET", "/echo", closing)},
		tc{"line longer than the parse buffer", req("GET", "/echo") + req("GET", "/echo", "User-Agent: "+strings.Repeat("u", 2500)+"\r\n") + req("GET", "/echo", closing)},
		tc{"CONNECT", req("GET", "/echo") + "CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n"},
		tc{"garbage", req("GET", "/echo") + "\x16\x03\x01 nonsense\r\n\r\n"},
		tc{"truncated head", req("GET", "/echo") + "GET /echo HTTP/1.1\r\nHost: exa"},
		tc{"leading CRLF", req("GET", "/echo") + "\r\n" + req("GET", "/echo", closing)},
		tc{"pipelined many", strings.Repeat(req("GET", "/typed"), 20) + req("GET", "/small", closing)},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			want := exchange(t, plainSrv, c.raw)
			got := exchange(t, laneSrv, c.raw)
			assert.Equal(t, want, got)
		})
	}
}

func TestTakesOverAndKeepsAlive(t *testing.T) {
	var conns []string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conns = append(conns, r.RemoteAddr)
		_, lane := w.(*response)
		fmt.Fprintf(w, "lane=%v tls=%v", lane, r.TLS != nil)
	})
	srv, _ := server(t, h, true, Options{})
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.Protocols = new(http.Protocols)
	tr.Protocols.SetHTTP1(true)
	tr.TLSClientConfig.NextProtos = []string{"http/1.1"}
	client := &http.Client{Transport: tr}
	for i := range 5 {
		res, err := client.Get(srv.URL + "/")
		require.NoError(t, err)
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		assert.Equal(t, "lane=true tls=true", string(b), "request %d", i)
	}
	for _, c := range conns {
		assert.Equal(t, conns[0], c, "one connection for every request")
	}
	// HTTP/2 is never taken over.
	h2 := srv.Client()
	res, err := h2.Get(srv.URL + "/")
	require.NoError(t, err)
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	assert.Equal(t, "HTTP/2.0", res.Proto)
	assert.Equal(t, "lane=false tls=true", string(b))
}

func TestHandedBackConnectionsKeepTheirTLSState(t *testing.T) {
	srv, _ := server(t, mux(), true, Options{})
	out := exchange(t, srv, req("GET", "/echo")+"POST /echo HTTP/1.1\r\nHost: example.test\r\nContent-Length: 1\r\n\r\nx"+req("GET", "/echo", closing))
	assert.Equal(t, 3, strings.Count(out, "tls=true"), out)
}

func quietLog() *log.Logger { return log.New(io.Discard, "", 0) }
