// Package posture evaluates client-certificate posture rules on a device:
// the Cloudflare One (WARP) client_certificate_v2 check, shaped so that rules
// and CA entries copied from the Cloudflare API load unchanged.
//
// # Config
//
// The config file (JSON) holds mtls_certificates (the CA registry) and rules.
// Decode rejects syntax errors, unknown fields and wrongly typed values,
// naming each by its JSON path ("rules[0].input.locations.trustStores:
// unknown field (did you mean "trust_stores"?)"). Validate checks every value
// and returns every problem with its path; a problem inside rules[i] stays
// with that rule, so one bad rule fails alone while the others are evaluated.
//
// Decisions where the original leaves room:
//   - operating_system may be omitted (any OS); the row then reports the OS
//     the rule was evaluated on. An inline rule's certificate_id is the
//     CA's derived id (DerivedID). A rule for another OS is
//     listed but not evaluated: Result.Evaluated is false and passed is NULL in
//     cert_posture, with reason "not evaluated: rule is for mac; this device
//     runs linux" — Cloudflare only evaluates matching rules, and a NULL keeps
//     such rows out of `WHERE passed = 0` alerts while keeping them visible.
//   - A rule without locations searches the system and user trust stores.
//   - locations.paths must be absolute on the rule's OS (C:\… or C:/… or a
//     UNC path for windows, /… elsewhere), judged by the rule's
//     operating_system, not by the machine that validates it. A registry key
//     path (HKLM\…, HKEY_USERS\<SID>\…, HKCU\…, either slash) is accepted
//     too: client_certificates takes the same path in WHERE path =, and a
//     rule must be able to name what the table shows. Off Windows such a
//     path fails to read with the registry reader's own error.
//   - extended_key_usage accepts clientAuth and emailProtection (Cloudflare's
//     two), the other OpenSSL short names, and dotted OIDs (known OIDs are
//     compared by name: 1.3.6.1.5.5.7.3.2 is clientAuth). anyExtendedKeyUsage
//     in a certificate does not stand in for a listed usage.
//   - subject_alternative_names is evaluated: each listed value (after
//     variable expansion) must equal one of the certificate's SANs, ignoring
//     case, with or without a "DNS:"/"email:"/"IP:"/"URI:" prefix.
//   - check_validity (certsight's own, default true) can switch off the
//     validity-period check per rule.
//   - Registry entries: id is a UUID (or 32 hex digits, the API's other form);
//     when absent it is derived from the SHA-256 of the first certificate
//     (DerivedID), so it is stable across reads and devices. certificates may
//     hold several CERTIFICATE blocks; any of them counts as the issuer.
//     Keys or other blocks are refused. uploaded_on is kept in the entry.
//   - The config is read on every query and decoded again only when its
//     bytes change (Source). A broken config is reported — one failed row with
//     an empty rule and "config PATH: …" — and never replaced by the last good
//     one, so a bad edit cannot go unnoticed. A missing config gives one
//     not-evaluated row "no posture config at PATH".
//
// # Evaluation
//
// A rule passes when one candidate from its locations (paths read by content
// through the scanner; trust_stores system/user through the platform's
// default stores of that location) passes every check: it is not the CA
// certificate itself; its signature verifies with the key of the rule's CA
// (cert.IssuedBy — no chain building, so an intermediate-issued certificate
// or a look-alike CA with the same name fails); now lies in its validity
// period (unless check_validity is false); its common name, or one of its
// user principal names (SAN otherName UPN), equals the expanded cn, ignoring
// case (an empty cn is not checked); it carries every listed SAN (a UPN
// listed as "UPN:user@domain" or bare) and EKU; and with check_private_key, its own private key is
// present: stores.KeyMatched, i.e. key material was found and its public
// half equals the certificate's (an NSS key object decrypted with the empty
// database password and checked, a PEM key). Nothing short of that passes:
// a link by identifier (KeyLinked: an NSS CKA_ID without checkable
// material, a keychain label, a Windows key-provider property) can be
// copied beside any certificate; an encrypted key (KeyLocked: a
// password-protected NSS database, an encrypted PEM key) cannot be
// confirmed to belong to the certificate; a key of another certificate
// (KeyMismatch) and an unreadable key store (KeyUnknown) fail with their
// reasons.
//
// ${hostname} and ${serial_number} are expanded from package identity; when
// a value is unavailable the rule fails with that reason and is never
// compared with an empty string.
//
// A failed rule's reason names its nearest candidates — those failing the
// fewest checks, issued by the CA first on a tie; at most three, sorted by
// location, path, label, fingerprint — and every check each one failed, then
// up to three read errors.
package posture
