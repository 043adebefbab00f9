package edge_test

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/windows"

	"github.com/certsight/certsight/internal/testtool"
)

// ownGroup starts cmd in a process group of its own, so that a CTRL_BREAK
// sent to it reaches it alone (not the test binary).
func ownGroup(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.CreationFlags |= windows.CREATE_NEW_PROCESS_GROUP
}

// interrupt asks certsight-edge to shut down gracefully: Windows has no
// SIGTERM to send; a console's CTRL_BREAK arrives in Go as os.Interrupt.
func interrupt(p *os.Process) error {
	err := windows.GenerateConsoleCtrlEvent(windows.CTRL_BREAK_EVENT, uint32(p.Pid))
	if err != nil && testtool.UnderWine() {
		// Measured: Wine 8.0 answers ERROR_INVALID_ACCESS, go test's
		// processes having no console there.
		return fmt.Errorf("%w: GenerateConsoleCtrlEvent: %v", errNoInterrupt, err)
	}
	return err
}
