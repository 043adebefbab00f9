//go:build !unix

package nssdb

import "errors"

func mkfifo(string) error { return errors.New("no FIFOs on this OS") }
