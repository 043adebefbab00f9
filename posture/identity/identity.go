// Package identity tells who this device is, for the ${hostname} and
// ${serial_number} variables of a posture rule's cn.
//
// Hostname is exactly what os.Hostname returns: the kernel's node name on
// Linux (uname -n; an FQDN only if the machine was configured that way), the
// kern.hostname sysctl on macOS (often "Name-MacBook-Pro.local", unlike the
// ComputerName shown in System Settings), and the physical DNS host name on Windows
// (GetComputerNameEx(ComputerNamePhysicalDnsHostname), i.e. the computer
// name, not joined to the domain). It is never resolved through DNS and never
// lowercased (the cn comparison ignores case anyway).
//
// SerialNumber is the system serial number of SMBIOS structure type 1
// ("System Information", the value `dmidecode -s system-serial-number`
// prints): on Linux from /sys/class/dmi/id/product_serial, else the raw
// table /sys/firmware/dmi/tables/DMI (both are readable by root only); on
// Windows from GetSystemFirmwareTable('RSMB'); on macOS the IORegistry's
// IOPlatformSerialNumber (through `ioreg`). Both table sources go through the
// one portable parser ParseSMBIOS. Placeholders that vendors leave in the
// field ("To Be Filled By O.E.M.", "Default string", "0", …) count as no
// serial: a rule must never match against a made-up or empty value.
package identity

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// ErrNoSerial is wrapped by every error that says the serial is unavailable.
var ErrNoSerial = errors.New("device serial number is unavailable")

// Device answers the identity questions. The zero value is not usable; use
// System. A successful serial lookup is kept for the life of the Device
// (it does not change while the machine runs); a failure is retried.
type Device struct {
	hostname func() (string, error)
	serial   func(ctx context.Context) (string, error)

	mu     sync.Mutex
	cached string
}

// System returns the Device for this machine.
func System() *Device {
	return &Device{hostname: os.Hostname, serial: platformSerial}
}

// Fixed returns a Device with given answers, for tests and for callers that
// learn identity elsewhere. An empty serial means "unavailable" with reason
// serialErr (or a generic one).
func Fixed(hostname, serial string, serialErr error) *Device {
	return &Device{
		hostname: func() (string, error) {
			if hostname == "" {
				return "", errors.New("host name is empty")
			}
			return hostname, nil
		},
		serial: func(context.Context) (string, error) {
			if serial == "" {
				if serialErr == nil {
					serialErr = errors.New("not known")
				}
				return "", fmt.Errorf("%w: %w", ErrNoSerial, serialErr)
			}
			return serial, nil
		},
	}
}

// Hostname returns os.Hostname's answer (see the package comment).
func (d *Device) Hostname() (string, error) {
	h, err := d.hostname()
	if err != nil {
		return "", fmt.Errorf("reading host name: %w", err)
	}
	if strings.TrimSpace(h) == "" {
		return "", errors.New("reading host name: host name is empty")
	}
	return h, nil
}

// SerialNumber returns the SMBIOS system serial number. Every failure wraps
// ErrNoSerial and says why (permission, no table, placeholder value).
func (d *Device) SerialNumber(ctx context.Context) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cached != "" {
		return d.cached, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	s, err := d.serial(ctx)
	if err != nil {
		if !errors.Is(err, ErrNoSerial) {
			err = fmt.Errorf("%w: %w", ErrNoSerial, err)
		}
		return "", err
	}
	d.cached = s
	return s, nil
}

// placeholders are values vendors leave in the serial field. Compared after
// trimming, ignoring case.
var placeholders = []string{
	"to be filled by o.e.m.", "to be filled by oem", "default string", "system serial number",
	"chassis serial number", "serial number", "not specified", "not applicable", "none",
	"n/a", "na", "invalid", "unknown", "o.e.m.", "oem", "123456789", "0123456789",
	"1234567890", "xxxxxxxxxx", "empty", "null",
}

// CleanSerial trims a serial and rejects empty, placeholder and non-printable
// values with an error wrapping ErrNoSerial.
func CleanSerial(s string) (string, error) {
	s = strings.TrimRight(s, "\x00")
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fmt.Errorf("%w: the serial number field is empty", ErrNoSerial)
	}
	for _, r := range s {
		if r < 0x20 || r > 0x7e {
			return "", fmt.Errorf("%w: the serial number holds non-printable characters", ErrNoSerial)
		}
	}
	low := strings.ToLower(s)
	for _, p := range placeholders {
		if low == p {
			return "", fmt.Errorf("%w: the serial number is a placeholder (%q)", ErrNoSerial, s)
		}
	}
	if strings.Trim(low, "0") == "" || strings.Trim(low, "f") == "" || strings.Trim(low, "x") == "" {
		return "", fmt.Errorf("%w: the serial number is a placeholder (%q)", ErrNoSerial, s)
	}
	return s, nil
}
