package rules

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var cfSchema = NewSchema(CloudflareFields())

// abcSchema has three Bool fields for checking the logic operators.
var abcSchema = NewSchema([]Field{{"a", Bool}, {"b", Bool}, {"c", Bool}})

func TestLogicPrecedence(t *testing.T) {
	cases := []struct {
		expr string
		want func(a, b, c bool) bool
	}{
		{"a or b and c", func(a, b, c bool) bool { return a || (b && c) }},
		{"a and b or c", func(a, b, c bool) bool { return (a && b) || c }},
		{"not a and b", func(a, b, c bool) bool { return !a && b }},
		{"not (a and b)", func(a, b, c bool) bool { return !(a && b) }},
		{"a xor b or c", func(a, b, c bool) bool { return (a != b) || c }},
		{"a or b xor c", func(a, b, c bool) bool { return a || (b != c) }},
		{"a xor b and c", func(a, b, c bool) bool { return a != (b && c) }},
		{"a and b xor c", func(a, b, c bool) bool { return (a && b) != c }},
		{"a xor b xor c", func(a, b, c bool) bool { return a != b != c }},
		{"(a or b) and c", func(a, b, c bool) bool { return (a || b) && c }},
		{"not not a", func(a, b, c bool) bool { return a }},
		{"!a || b && !c", func(a, b, c bool) bool { return !a || (b && !c) }},
		{"a ^^ b || c", func(a, b, c bool) bool { return (a != b) || c }},
		{"a&&b||c", func(a, b, c bool) bool { return (a && b) || c }},
		{"!(a^^b)", func(a, b, c bool) bool { return a == b }},
		{"not a or not b and c", func(a, b, c bool) bool { return !a || (!b && c) }},
		{"a and true", func(a, b, c bool) bool { return a }},
		{"a or false", func(a, b, c bool) bool { return a }},
		{"true", func(a, b, c bool) bool { return true }},
		{"false", func(a, b, c bool) bool { return false }},
		{"((a))", func(a, b, c bool) bool { return a }},
		{"\ta\n and\r\n b ", func(a, b, c bool) bool { return a && b }},
	}
	for _, tc := range cases {
		t.Run(tc.expr, func(t *testing.T) {
			e, err := Compile(tc.expr, abcSchema)
			require.NoError(t, err)
			assert.Equal(t, tc.expr, e.String())
			for i := 0; i < 8; i++ {
				a, b, c := i&4 != 0, i&2 != 0, i&1 != 0
				env := &fakeEnv{}
				env.b[0], env.b[1], env.b[2] = a, b, c
				assert.Equal(t, tc.want(a, b, c), e.Eval(env), "a=%v b=%v c=%v", a, b, c)
			}
		})
	}
}

// countingEnv records which fields were read, to check short-circuiting.
type countingEnv struct {
	fakeEnv
	reads [64]int
}

func (e *countingEnv) Bool(id int) bool { e.reads[id]++; return e.b[id] }

func TestShortCircuit(t *testing.T) {
	cases := []struct {
		expr     string
		a        bool
		readsOfB int
	}{
		{"a and b", false, 0},
		{"a and b", true, 1},
		{"a or b", true, 0},
		{"a or b", false, 1},
		{"a xor b", true, 1},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s with a=%v", tc.expr, tc.a), func(t *testing.T) {
			e, err := Compile(tc.expr, abcSchema)
			require.NoError(t, err)
			env := &countingEnv{}
			env.b[0] = tc.a
			e.Eval(env)
			assert.Equal(t, tc.readsOfB, env.reads[1])
		})
	}
}

func TestOperators(t *testing.T) {
	env := verifiedEnv()
	cases := []struct {
		expr string
		want bool
	}{
		// Both spellings of every comparison operator.
		{`http.host eq "app.example.com"`, true},
		{`http.host == "app.example.com"`, true},
		{`http.host eq "App.example.com"`, false}, // case-sensitive
		{`http.host ne "app.example.com"`, false},
		{`http.host != "other"`, true},
		{`http.request.method lt "POST"`, true},
		{`http.request.method < "GET"`, false},
		{`http.request.method le "GET"`, true},
		{`http.request.method <= "GE"`, false},
		{`http.request.method gt "GE"`, true},
		{`http.request.method > "GET"`, false},
		{`http.request.method ge "GET"`, true},
		{`http.request.method >= "HEAD"`, false},
		{`http.request.method lt "get"`, true}, // bytewise: 'G' < 'g'
		{`http.request.uri.path contains "/v1/"`, true},
		{`http.request.uri.path contains "/v2/"`, false},
		{`http.request.uri.path contains ""`, true},
		{`http.request.uri.path matches "^/api/v[0-9]+/"`, true},
		{`http.request.uri.path ~ "^/API/"`, false},
		{`http.request.uri.path ~ "(?i)^/API/"`, true},
		{`http.request.method in {"GET" "HEAD"}`, true},
		{`http.request.method in {"POST"}`, false},
		{`http.host in {"a" "b" "c" "d" "e" "f" "g" "h" "i" "app.example.com"}`, true}, // map-backed set
		{`http.host in {"a" "b" "c" "d" "e" "f" "g" "h" "i" "j"}`, false},
		// Bool fields bare, with not and !.
		{`cf.tls_client_auth.cert_verified`, true},
		{`not cf.tls_client_auth.cert_revoked`, true},
		{`!cf.tls_client_auth.cert_verified`, false},
		{`cf.tls_client_auth.cert_verified && !cf.tls_client_auth.cert_revoked`, true},
		{`cf.tls_client_auth.cert_verified and cf.tls_client_auth.cert_revoked`, false},
		{`cf.tls_client_auth.cert_revoked || cf.tls_client_auth.cert_presented`, true},
		{`cf.tls_client_auth.cert_revoked ^^ cf.tls_client_auth.cert_presented`, true},
		{`cf.tls_client_auth.cert_verified xor cf.tls_client_auth.cert_presented`, false},
		{`cf.tls_client_auth.cert_chain_rfc9440 ne ""`, true},
		{`cf.tls_client_auth.cert_issuer_serial eq ""`, true},
		// IP fields.
		{`ip.src eq 192.0.2.10`, true},
		{`ip.src == 192.0.2.11`, false},
		{`ip.src ne 192.0.2.11`, true},
		{`ip.src eq ::ffff:192.0.2.10`, true},
		{`ip.src in {10.0.0.0/8 192.0.2.0/24}`, true},
		{`ip.src in {10.0.0.0/8 192.0.2.1}`, false},
		{`ip.src in {192.0.2.10}`, true},
		{`ip.src in {2001:db8::/32 192.0.2.10}`, true},
		{`ip.src in {::ffff:192.0.2.0/120}`, true},
		{`ip.src in {192.0.2.99/24}`, true}, // host bits are masked
		{`ip.src lt 192.0.2.11`, true},
		{`ip.src ge 192.0.2.11`, false},
		{`ip.src > 10.0.0.1`, true},
		{`ip.src <= 192.0.2.10`, true},
		// Raw strings.
		{`http.request.uri.path matches r"^/api/v\d+/"`, true},
		{`http.host eq r#"app.example.com"#`, true},
		{`http.host eq r#"a"b"#`, false},
		// Escapes.
		{`http.host ne "a\"b\\c"`, true},
		// not applies to a whole comparison.
		{`not http.host eq "app.example.com"`, false},
		{`!http.host eq "other"`, true},
		{`not not http.host eq "app.example.com"`, true},
		{`(http.host eq "x" or http.request.method eq "GET") and ip.src in {192.0.2.0/24}`, true},
	}
	for _, tc := range cases {
		t.Run(tc.expr, func(t *testing.T) {
			e, err := Compile(tc.expr, cfSchema)
			require.NoError(t, err)
			assert.Equal(t, tc.want, e.Eval(env))
		})
	}
}

func TestIPv6Source(t *testing.T) {
	env := &fakeEnv{}
	env.ip[FieldIPSrc] = netip.MustParseAddr("2001:db8::1")
	for expr, want := range map[string]bool{
		`ip.src eq 2001:db8::1`:          true,
		`ip.src in {2001:db8::/32}`:      true,
		`ip.src in {192.0.2.0/24}`:       false,
		`ip.src in {::/0}`:               true,
		`ip.src in {0.0.0.0/0}`:          false,
		`ip.src eq 2001:DB8:0:0:0:0:0:1`: true,
	} {
		e, err := Compile(expr, cfSchema)
		require.NoError(t, err, expr)
		assert.Equal(t, want, e.Eval(env), expr)
	}
	// A mapped IPv4 source compares as IPv4.
	env.ip[FieldIPSrc] = netip.MustParseAddr("::ffff:10.1.2.3")
	e, err := Compile(`ip.src in {10.0.0.0/8}`, cfSchema)
	require.NoError(t, err)
	assert.True(t, e.Eval(env))
}

func TestAbsentIPMatchesOnlyNe(t *testing.T) {
	env := &fakeEnv{}
	for expr, want := range map[string]bool{
		`ip.src eq 0.0.0.0`:     false,
		`ip.src ne 0.0.0.0`:     true,
		`ip.src in {0.0.0.0/0}`: false,
		`ip.src lt 1.1.1.1`:     false,
		`ip.src ge 0.0.0.0`:     false,
	} {
		e, err := Compile(expr, cfSchema)
		require.NoError(t, err, expr)
		assert.Equal(t, want, e.Eval(env), expr)
	}
}

func TestStringEscapes(t *testing.T) {
	cases := []struct {
		name, lit, want string
		errPos          int // -1: no error
		errHas          string
	}{
		{"escaped quote", `"a\"b"`, `a"b`, -1, ""},
		{"escaped backslash", `"a\\b"`, `a\b`, -1, ""},
		{"both", `"\\\"\\"`, `\"\`, -1, ""},
		{"plain", `"hello world"`, "hello world", -1, ""},
		{"empty", `""`, "", -1, ""},
		{"utf-8", `"Zürich"`, "Zürich", -1, ""},
		{"newline escape rejected", `"a\nb"`, "", 15, `invalid escape "\\n"`},
		{"hex escape rejected", `"a\x41"`, "", 15, `invalid escape "\\x"`},
		{"octal escape rejected", `"\101"`, "", 14, `invalid escape "\\1"`},
		{"escape at end", `"a\`, "", 15, "unterminated escape"},
		{"unterminated", `"abc`, "", 13, "unterminated string"},
		{"raw keeps backslashes", `r"a\nb"`, `a\nb`, -1, ""},
		{"raw with hashes", `r##"say "#hi"#"##`, `say "#hi"#`, -1, ""},
		{"unterminated raw", `r#"abc"`, "", 13, "unterminated raw string"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			expr := `http.host eq ` + tc.lit // the literal starts at position 13
			e, err := Compile(expr, cfSchema)
			if tc.errPos >= 0 {
				var se *SyntaxError
				require.ErrorAs(t, err, &se)
				assert.Equal(t, tc.errPos, se.Pos)
				assert.Contains(t, se.Msg, tc.errHas)
				return
			}
			require.NoError(t, err)
			env := &fakeEnv{}
			env.s[FieldHTTPHost] = tc.want
			assert.True(t, e.Eval(env))
			env.s[FieldHTTPHost] = tc.want + "x"
			assert.False(t, e.Eval(env))
		})
	}
}

func TestCompileErrors(t *testing.T) {
	cases := []struct {
		name, expr string
		pos        int
		msg        string
	}{
		{"empty", "", 0, "empty expression"},
		{"only spaces", "   ", 3, "empty expression"},
		{"unknown field named", `cf.tls_client_auth.cert_colour eq "x"`, 0, `unknown field "cf.tls_client_auth.cert_colour"`},
		{"unknown field after and", `true and http.hots eq "x"`, 9, `unknown field "http.hots"`},
		{"missing operator", `http.host`, 9, `expected operator after field "http.host", found end of expression`},
		{"missing operator before literal", `not (http.host "x")`, 15, `expected operator after field "http.host"`},
		{"trailing input", `true false`, 5, `expected and, or, xor or end of expression, found "false"`},
		{"trailing literal", `http.host eq "a" "b"`, 17, "expected and, or, xor or end of expression"},
		{"unbalanced open", `(true and false`, 15, `expected ")" to close "(" at position 0`},
		{"unbalanced close", `true)`, 4, `unbalanced ")"`},
		{"empty parens", `()`, 1, "empty parentheses"},
		{"dangling and", `true and`, 8, `expected an operand after "and"`},
		{"dangling or symbol", `true ||`, 7, `expected an operand after "||"`},
		{"operator first", `and true`, 0, `found operator "and"`},
		{"bool with operator", `cf.tls_client_auth.cert_verified eq "true"`, 33, "is Bool and takes no operator"},
		{"bool with symbol", `cf.tls_client_auth.cert_verified == true`, 33, "is Bool and takes no operator"},
		{"string vs ip literal", `http.host eq 192.0.2.1`, 13, `expected a quoted string after "eq"`},
		{"string vs bare word", `http.host eq example`, 13, `expected a quoted string`},
		{"ip vs string", `ip.src eq "192.0.2.1"`, 10, `is IP; compare it with an IP address or CIDR, not a string`},
		{"ip contains", `ip.src contains "1"`, 7, `operator "contains" needs a String field`},
		{"ip matches", `ip.src ~ "1"`, 7, `operator "~" needs a String field`},
		{"ip eq cidr", `ip.src eq 10.0.0.0/8`, 10, "use in {10.0.0.0/8} for a CIDR"},
		{"bad ip", `ip.src eq 300.1.1.1`, 10, `invalid IP address "300.1.1.1"`},
		{"bad cidr", `ip.src in {10.0.0.0/33}`, 11, `invalid CIDR "10.0.0.0/33"`},
		{"string in ip set", `ip.src in {10.0.0.1 "x"}`, 20, "not a string"},
		{"ip in string set", `http.host in {"a" 10.0.0.1}`, 18, "expected a quoted string or \"}\""},
		{"empty set", `http.host in {}`, 14, "empty set"},
		{"unclosed set", `http.host in {"a"`, 17, `expected "}" to close "{" at position 13`},
		{"set without braces", `http.host in "a"`, 13, `expected "{" after in`},
		{"set elements not separated", `http.host in {"a""b"}`, 17, "expected a space"},
		{"bad regexp", `http.request.uri.path matches "a(b"`, 30, "invalid regular expression"},
		{"function", `lower(http.host) eq "x"`, 0, `unknown function "lower"`},
		{"index", `http.request.headers["x"] eq "y"`, 0, "cannot be indexed"},
		{"wildcard unsupported", `http.host wildcard "*.example.com"`, 10, `operator "wildcard" is not supported`},
		{"symbol garbage", `http.host eq "a" && @`, 20, `expected a field, true, false, not or "(", found "@"`},
		{"not alone", `not`, 3, "unexpected end of expression"},
		{"bang before ne", `!= "x"`, 0, "expected a field"},
		{"raw hashes without quote", `http.host eq r#abc`, 13, `expected '"' after r#`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(tc.expr, cfSchema)
			var se *SyntaxError
			require.ErrorAs(t, err, &se, "expr %q", tc.expr)
			assert.Equal(t, tc.pos, se.Pos, "message: %s", se.Msg)
			assert.Contains(t, se.Msg, tc.msg)
			assert.True(t, strings.HasPrefix(err.Error(), fmt.Sprintf("position %d: ", tc.pos)), err.Error())
		})
	}
}

func TestSyntaxErrorText(t *testing.T) {
	_, err := Compile(`true and (http.host "x")`, cfSchema)
	require.Error(t, err)
	assert.Equal(t, `position 20: expected operator after field "http.host", found "\"x\")"`, err.Error())
}

func TestMaxExpressionLen(t *testing.T) {
	// "true" padded with spaces to exactly the limit compiles; one byte more does not.
	ok := "true" + strings.Repeat(" ", MaxExpressionLen-4)
	_, err := Compile(ok, cfSchema)
	require.NoError(t, err)
	_, err = Compile(ok+" ", cfSchema)
	var se *SyntaxError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, MaxExpressionLen, se.Pos)
	assert.Contains(t, se.Msg, "4097 bytes long; the limit is 4096")

	// A long but real expression at the limit.
	var b strings.Builder
	b.WriteString(`http.host in {`)
	for b.Len() < MaxExpressionLen-10 {
		b.WriteString(`"h" `)
	}
	b.WriteString(`"x"}`)
	for b.Len() < MaxExpressionLen {
		b.WriteByte(' ')
	}
	require.Equal(t, MaxExpressionLen, b.Len())
	_, err = Compile(b.String(), cfSchema)
	require.NoError(t, err)
}

func TestDeepNesting(t *testing.T) {
	// The length limit bounds recursion; the deepest possible nesting must still work.
	n := (MaxExpressionLen - 4) / 2
	expr := strings.Repeat("(", n) + "true" + strings.Repeat(")", n)
	e, err := Compile(expr, cfSchema)
	require.NoError(t, err)
	assert.True(t, e.Eval(&fakeEnv{}))
	expr = strings.Repeat("!", MaxExpressionLen-4) + "true"
	e, err = Compile(expr, cfSchema)
	require.NoError(t, err)
	assert.True(t, e.Eval(&fakeEnv{})) // an even number of negations
}

func TestNilSchemaKnowsNoFields(t *testing.T) {
	_, err := Compile(`http.host eq "x"`, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "unknown field")
	e, err := Compile(`true`, nil)
	require.NoError(t, err)
	assert.True(t, e.Eval(&fakeEnv{}))
}

func TestSchema(t *testing.T) {
	fields := CloudflareFields()
	require.Len(t, fields, FieldXFCC+1)
	s := NewSchema(fields)
	for id, f := range fields {
		gotID, kind, ok := s.Lookup(f.Name)
		require.True(t, ok, f.Name)
		assert.Equal(t, id, gotID, f.Name)
		assert.Equal(t, f.Kind, kind, f.Name)
	}
	checks := map[int]Field{
		FieldCertPresented:            {"cf.tls_client_auth.cert_presented", Bool},
		FieldCertRevoked:              {"cf.tls_client_auth.cert_revoked", Bool},
		FieldCertSubjectDNLegacy:      {"cf.tls_client_auth.cert_subject_dn_legacy", String},
		FieldCertRFC9440TooLarge:      {"cf.tls_client_auth.cert_rfc9440_too_large", Bool},
		FieldCertChainRFC9440:         {"cf.tls_client_auth.cert_chain_rfc9440", String},
		FieldCertChainRFC9440TooLarge: {"cf.tls_client_auth.cert_chain_rfc9440_too_large", Bool},
		FieldHTTPRequestURIPath:       {"http.request.uri.path", String},
		FieldIPSrc:                    {"ip.src", IP},
	}
	for id, f := range checks {
		assert.Equal(t, f, fields[id])
	}
	fields[0].Name = "mutated"
	assert.Equal(t, "cf.tls_client_auth.cert_presented", s.Fields()[0].Name, "NewSchema copies its input")
	dup := NewSchema([]Field{{"x", Bool}, {"x", String}})
	id, kind, _ := dup.Lookup("x")
	assert.Equal(t, 0, id, "the first of duplicate names wins")
	assert.Equal(t, Bool, kind)
	_, _, ok := s.Lookup("cf.tls_client_auth")
	assert.False(t, ok)
	assert.Equal(t, "IP", IP.String())
}

func TestErrorsAreSyntaxErrors(t *testing.T) {
	_, err := Compile(`http.host eq`, cfSchema)
	var se *SyntaxError
	assert.True(t, errors.As(err, &se))
}

// defaultExprs are the conditions of the four default rules.
var defaultExprs = []string{
	`true`,
	`cf.tls_client_auth.cert_verified and not cf.tls_client_auth.cert_revoked and not cf.tls_client_auth.cert_rfc9440_too_large`,
	`cf.tls_client_auth.cert_verified and not cf.tls_client_auth.cert_revoked and not cf.tls_client_auth.cert_rfc9440_too_large and cf.tls_client_auth.cert_chain_rfc9440 ne "" and not cf.tls_client_auth.cert_chain_rfc9440_too_large`,
}

func TestEvalDoesNotAllocate(t *testing.T) {
	exprs := append([]string{
		`http.request.uri.path matches "^/api/v[0-9]+/"`,
		`ip.src in {10.0.0.0/8 192.0.2.0/24 2001:db8::/32}`,
		`http.host in {"a" "b" "c" "d" "e" "f" "g" "h" "i" "app.example.com"}`,
		`http.request.uri.path contains "/v1/" xor http.request.method ge "GET"`,
	}, defaultExprs...)
	env := verifiedEnv()
	for _, src := range exprs {
		e, err := Compile(src, cfSchema)
		require.NoError(t, err)
		allocs := testing.AllocsPerRun(200, func() { e.Eval(env) })
		assert.Zero(t, allocs, src)
	}
}
