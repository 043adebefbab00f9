//go:build !windows

package edge_test

import (
	"os"
	"os/exec"
	"syscall"
)

// ownGroup: a signal reaches one process anyway.
func ownGroup(*exec.Cmd) {}

// interrupt asks certsight-edge to shut down gracefully.
func interrupt(p *os.Process) error { return p.Signal(syscall.SIGTERM) }
