package identity

import (
	"strings"
	"testing"
)

func FuzzParseSMBIOS(f *testing.F) {
	f.Add(table(bios(), system(3, "Lenovo", "ThinkPad", "PF2ABCDE"), endOfTable()))
	f.Add(table(system(0, "a")))
	f.Add([]byte{1, 2, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, parse := range []func([]byte) (string, error){ParseSMBIOS, ParseRawSMBIOSData} {
			s, err := parse(data)
			if err != nil {
				if s != "" {
					t.Fatalf("serial %q returned with error %v", s, err)
				}
				continue
			}
			if s == "" || strings.TrimSpace(s) != s {
				t.Fatalf("untrimmed or empty serial %q without error", s)
			}
		}
	})
}

func FuzzParseIORegSerial(f *testing.F) {
	f.Add([]byte(`    "IOPlatformSerialNumber" = "C02XK0ABJG5J"`))
	f.Add([]byte(`"IOPlatformSerialNumber" = "`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseIORegSerial(data)
		if (err == nil) == (s == "") {
			t.Fatalf("serial %q, error %v", s, err)
		}
	})
}
