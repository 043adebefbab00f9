// Package rawconn reads and writes a TCP connection's non-blocking socket
// without handing the goroutine's processor to another thread.
//
// A Go read or write on a socket enters the kernel through
// syscall.Syscall, which tells the scheduler the thread may block. The
// runtime's monitor thread then takes the processor away from any call that
// lasts longer than one of its ticks (20 µs) and wakes another thread to
// run it; when the call returns, the first thread finds no processor and
// goes to sleep. A socket in net's non-blocking mode never blocks, but a
// write on loopback or a busy virtual machine often lasts longer than that
// tick (the kernel delivers the data to the receiver in the same call), so
// a proxy pays two thread wake-ups and a monitor that polls every 20 µs for
// work that is pure CPU. Wrap makes the same calls with syscall.RawSyscall
// inside the connection's RawConn, so deadlines, the network poller and
// Close behave exactly as on the net.TCPConn it wraps: a call that would
// block (EAGAIN) parks the goroutine in the poller as net does.
//
// Only Linux is wrapped; elsewhere Wrap returns the connection unchanged.
package rawconn
