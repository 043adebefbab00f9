// Package rules implements the part of Cloudflare's Rules language that request header
// transforms need, and the ruleset (remove, set static, set dynamic header operations) that
// loads unchanged from Cloudflare's ruleset JSON for phase http_request_late_transform.
//
// # Expressions
//
//	expr       = or
//	or         = xor { ("or" | "||") xor }          lowest precedence
//	xor        = and { ("xor" | "^^") and }
//	and        = not { ("and" | "&&") not }
//	not        = ("not" | "!") not | primary         highest precedence
//	primary    = "(" expr ")" | "true" | "false" | boolfield | field op literal | field "in" set
//	op         = eq == ne != lt < le <= gt > ge >= contains matches ~
//	set        = "{" literal { space literal } "}"
//
// Bool fields stand alone and take no operator. String fields compare with quoted strings,
// case-sensitively and bytewise; "..." strings allow only the escapes \" and \\, raw strings
// r"..." and r#"..."# (up to 255 #) have none. contains is a substring test and matches (~)
// a Go regexp (RE2 syntax), compiled with the expression. IP fields compare with addresses
// (eq, ne, and ordering) and test membership of addresses and CIDR prefixes with in:
// ip.src in {10.0.0.0/8 192.0.2.1}. IPv4-mapped IPv6 addresses compare as IPv4.
//
// Expressions are at most MaxExpressionLen bytes. Every compile error, including a type
// mismatch or a bad regexp, is a *SyntaxError naming the byte offset. Compiled expressions are
// small trees evaluated without allocation; and/or short-circuit.
//
// # Rulesets
//
// ParseRuleset reads the ruleset JSON (also inside the API's {"result": …} wrapper) and
// rejects anything it does not understand, naming the JSON path. Apply runs the rules in order
// on outgoing request headers; a set with an empty value removes the header, and a
// Client-Cert-Chain without a Client-Cert never survives (RFC 9440 §2.3). DefaultRuleset and
// ManagedTransformRuleset are built from the JSON files in presets/.
package rules
