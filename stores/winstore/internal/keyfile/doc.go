// Package keyfile reads the files in which Windows' software key providers
// keep private keys, far enough to learn which key a file holds: the name it
// was stored under and its public half, which both formats keep in the
// clear. The private half is DPAPI-encrypted (under the user's or the
// machine's master key) and is never read here.
//
// Two formats, one per API generation:
//
//   - CryptoAPI (CAPI) key containers, written by the Microsoft RSA CSPs
//     ("Microsoft Base/Enhanced/Strong Cryptographic Provider", "Microsoft
//     Enhanced RSA and AES Cryptographic Provider", "Microsoft RSA SChannel
//     Cryptographic Provider") to %APPDATA%\Microsoft\Crypto\RSA\<SID>\ (user)
//     and %ProgramData%\Microsoft\Crypto\RSA\MachineKeys\ (machine). A file
//     holds up to two key pairs, the signature pair (AT_SIGNATURE) and the
//     exchange pair (AT_KEYEXCHANGE); see ParseCAPI.
//   - CNG key files, written by the "Microsoft Software Key Storage Provider"
//     to %APPDATA%\Microsoft\Crypto\Keys\ (user) and
//     %ProgramData%\Microsoft\Crypto\Keys\ (machine); see ParseCNG.
//
// Both name a file <hash>_<MachineGuid>, where hash is the MD5 of the
// lower-cased key name with its terminating NUL, printed as four
// little-endian 32-bit words in hex, and MachineGuid is the value of that
// name under HKLM\SOFTWARE\Microsoft\Cryptography. CAPI hashes the name in
// the ANSI code page, CNG in UTF-16LE (see CAPIFileHash, CNGFileHash).
//
// Sources for the layouts (no specification is published): the key-file
// readers of mimikatz (kull_m_key), DPAPIck (probes/certificate), SharpDPAPI
// (Dpapi.cs) and dissect.target (plugins/os/windows/cng), which agree with
// one another; the unique-container name derivation documented by Michel
// Gallant ("UniqueKeyContainer") and tested by Wine's rsaenh tests against
// Windows; Microsoft's BCRYPT_RSAKEY_BLOB and BCRYPT_ECCKEY_BLOB reference
// pages. No real key file written by Windows was available to this project,
// so the tests build files from these descriptions (see testdata/synth).
package keyfile
