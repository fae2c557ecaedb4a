//go:build linux

package broker

import (
	"io"
	"net"
	"os"
	"syscall"

	klog "github.com/chronik-stream/chronik/internal/log"
)

// sendFile sends sp from its file to tc with sendfile(2), honouring tc's
// write deadline. false, nil: the span's file has no descriptor (a test
// filesystem); the caller copies instead.
func sendFile(tc *net.TCPConn, sp *klog.Span) (bool, error) {
	fc, ok := sp.File().(syscall.Conn)
	if !ok {
		return false, nil
	}
	frc, err := fc.SyscallConn()
	if err != nil {
		return false, nil
	}
	src, err := tc.SyscallConn()
	if err != nil {
		return false, err
	}
	off, remain := sp.Pos, sp.Len
	var serr error
	// Control holds the file descriptor open (a concurrent Close waits).
	cerr := frc.Control(func(ffd uintptr) {
		werr := src.Write(func(sfd uintptr) bool {
			for remain > 0 {
				n, err := syscall.Sendfile(int(sfd), int(ffd), &off, min(remain, 1<<30))
				if n > 0 {
					remain -= n
				}
				switch {
				case err == syscall.EAGAIN:
					return false // wait until the socket is writable
				case err == syscall.EINTR:
				case err != nil:
					serr = os.NewSyscallError("sendfile", err)
					return true
				case n <= 0:
					serr = io.ErrUnexpectedEOF // the file is shorter than the span
					return true
				}
			}
			return true
		})
		if serr == nil {
			serr = werr
		}
	})
	if serr == nil {
		serr = cerr
	}
	return true, serr
}
