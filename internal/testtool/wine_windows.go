package testtool

import "golang.org/x/sys/windows"

// UnderWine reports whether this windows program runs under Wine (its
// ntdll exports wine_get_version), where a few Windows facilities are
// missing (see tests/windows/run.sh); tests name them in their skips.
func UnderWine() bool {
	return windows.NewLazySystemDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil
}
