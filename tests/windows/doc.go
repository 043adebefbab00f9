// Package windows is the Windows test bed: make test-windows (run.sh) runs
// the whole test suite built for windows under Wine, then, with -tags wine,
// the end-to-end test here, in which crypt32 itself (storetool) writes the
// stores that certsight.exe reads. prng/ holds the ProcessPrng stand-in DLL
// that Go programs need under Wine 8.0.
package windows
