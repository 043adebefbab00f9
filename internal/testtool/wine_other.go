//go:build !windows

package testtool

// UnderWine reports whether this windows program runs under Wine: never
// off Windows.
func UnderWine() bool { return false }
