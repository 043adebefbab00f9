package edge_test

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"

	"github.com/certsight/certsight/edge"
	"github.com/certsight/certsight/internal/testpki"
)

// pki stands in for the files a deployment has: a client CA, the server's
// certificate and a client's.
type pki struct {
	clientCAs *x509.CertPool
	server    tls.Certificate
	client    tls.Certificate
	serverCA  *x509.CertPool
}

func newPKI() pki {
	root, err := testpki.NewRoot("Example Root CA")
	if err != nil {
		panic(err)
	}
	srv, err := root.ServerCert()
	if err != nil {
		panic(err)
	}
	alice, err := root.Issue(testpki.Options{Subject: pkix.Name{CommonName: "alice"}})
	if err != nil {
		panic(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(root.Cert)
	return pki{
		clientCAs: pool,
		server:    tls.Certificate{Certificate: [][]byte{srv.Cert.Raw}, PrivateKey: srv.Key},
		client:    tls.Certificate{Certificate: [][]byte{alice.Cert.Raw}, PrivateKey: alice.Key},
		serverCA:  pool,
	}
}

// get makes one HTTPS request with the client certificate and returns the body.
func get(p pki, url string) string {
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: p.serverCA, Certificates: []tls.Certificate{p.client},
	}}}
	resp, err := c.Get(url)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// The full wiring: New, then TLSConfig and Listener so that each chain is
// verified once, at the handshake, and ConnContext so that every request
// of a connection finds that result; Handler strips client copies of the
// managed headers and sets them from the connection.
func Example() {
	p := newPKI()

	e, err := edge.New(edge.Config{Verifier: &edge.Verifier{Roots: p.clientCAs}})
	if err != nil {
		panic(err)
	}
	tlsCfg, err := e.TLSConfig(&tls.Config{Certificates: []tls.Certificate{p.server}}, edge.VerifyIfGiven)
	if err != nil {
		panic(err)
	}
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, _ := edge.TLSClientAuthFrom(r.Context())
		fmt.Fprintf(w, "%s %s Client-Cert set: %t", v.CertVerified, v.CertSubjectDN, r.Header.Get("Client-Cert") != "")
	})
	srv := &http.Server{Handler: e.Handler(app), ConnContext: e.ConnContext}
	go srv.Serve(e.Listener(tcp, tlsCfg))
	defer srv.Close()

	fmt.Println(get(p, "https://"+tcp.Addr().String()+"/"))
	// Output: SUCCESS CN=alice Client-Cert set: true
}

// Middleware gives the edge in the shape routers take. On a server that
// does not use the edge's Listener and ConnContext, the chain is verified
// on each request instead of once per connection.
func ExampleMiddleware() {
	p := newPKI()

	_, mw, err := edge.Middleware(edge.Config{Verifier: &edge.Verifier{Roots: p.clientCAs}})
	if err != nil {
		panic(err)
	}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, _ := edge.TLSClientAuthFrom(r.Context())
		fmt.Fprint(w, v.CertVerified, " ", v.CertSubjectDN)
	})
	srv := httptest.NewUnstartedServer(mw(app))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{p.server}, ClientAuth: tls.RequestClientCert}
	srv.StartTLS()
	defer srv.Close()

	fmt.Println(get(p, srv.URL))
	// Output: SUCCESS CN=alice
}

// A configuration mistake is an error, never a panic.
func ExampleNew_badConfig() {
	_, err := edge.New(edge.Config{Legacy: edge.LegacyMode(7)})
	fmt.Println(err)
	// Output: legacy mode 7 out of range
}

// Reload swaps the whole configuration while the edge serves: here the
// client CA is taken out, and the next request is verified under the new
// configuration (an open connection would be too, from its next request).
// With Config.Certificate set, a reload also replaces the server
// certificate for new handshakes. A configuration that does not fit how
// the edge serves is refused, and the running one stays.
func ExampleEdge_Reload() {
	p := newPKI()

	e, err := edge.New(edge.Config{Verifier: &edge.Verifier{Roots: p.clientCAs}, Certificate: &p.server})
	if err != nil {
		panic(err)
	}
	tlsCfg, err := e.TLSConfig(&tls.Config{}, edge.VerifyIfGiven)
	if err != nil {
		panic(err)
	}
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, _ := edge.TLSClientAuthFrom(r.Context())
		fmt.Fprint(w, v.CertVerified)
	})
	srv := &http.Server{Handler: e.Handler(app), ConnContext: e.ConnContext}
	go srv.Serve(e.Listener(tcp, tlsCfg))
	defer srv.Close()
	url := "https://" + tcp.Addr().String() + "/"

	fmt.Println(get(p, url))
	err = e.Reload(edge.Config{Verifier: &edge.Verifier{Roots: x509.NewCertPool()}, Certificate: &p.server})
	fmt.Println("reloaded:", err == nil)
	fmt.Println(get(p, url))
	fmt.Println(e.Reload(edge.Config{Verifier: &edge.Verifier{}, Certificate: &p.server}))
	// Output:
	// SUCCESS
	// reloaded: true
	// FAILED:unable to get local issuer certificate
	// reload: the client-auth mode needs trust anchors and the new configuration has none
}
