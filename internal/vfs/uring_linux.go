package vfs

import (
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fdatasync through io_uring.
//
// A segment's fdatasync takes milliseconds (tens of them under load), and
// a goroutine in a system call keeps its P: the runtime's sysmon thread
// takes the P back from any call longer than 10 ms (or 20 µs while other
// goroutines wait), starts another thread for it, and, having had to do so,
// keeps polling every 20 µs instead of backing off to 10 ms. Under a produce
// load of six partitions that was about 250 hand-offs and 4,000 sysmon
// wake-ups a second, 8% of the broker's CPU plus the thread switches
// (docs/benchmarks.md, "fsync without a thread").
//
// Through io_uring the fdatasync runs on one of the kernel's io-wq worker
// threads of this process (its CPU time counts as the broker's, as before)
// and the goroutine waits on a channel, holding no thread: the ring signals
// completions on an eventfd that the runtime's netpoller watches.
//
// Where io_uring is missing or refused (old kernels, seccomp profiles,
// kernel.io_uring_disabled, CHRONIK_IO_URING=off) datasync falls back to
// the fdatasync system call; so does a ring that fails later.

// io_uring ABI (include/uapi/linux/io_uring.h).
const (
	uringOffSQRing = 0
	uringOffCQRing = 0x8000000
	uringOffSQEs   = 0x10000000

	uringFeatSingleMmap = 1 << 0

	uringOpFsync       = 3
	uringFsyncDatasync = 1

	uringRegisterEventfd        = 4
	uringRegisterIOWQMaxWorkers = 19

	sqeSize     = 64
	cqeSize     = 16
	ringEntries = 64 // fsyncs in flight at most; more wait for a slot
)

// uringParams is struct io_uring_params.
type uringParams struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFD uint32
	resv                                                                   [3]uint32
	sqOff                                                                  struct {
		head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
		userAddr                                                        uint64
	}
	cqOff struct {
		head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
		userAddr                                                        uint64
	}
}

type uring struct {
	fd           int
	sqMem, cqMem []byte // cqMem aliases sqMem with IORING_FEAT_SINGLE_MMAP
	sqes         []byte
	sqTail       *uint32
	sqMask       uint32
	sqArray      unsafe.Pointer
	cqHead       *uint32
	cqTail       *uint32
	cqMask       uint32
	cqes         unsafe.Pointer
	efd          *os.File

	mu    sync.Mutex              // the submission queue
	slots chan uint32             // free request slots
	done  [ringEntries]chan int32 // a slot's completion: the CQE's res
	dead  atomic.Bool             // the ring failed; use the system call
}

var (
	ringOnce sync.Once
	theRing  *uring
)

// datasync makes f's data durable: through the ring when there is one.
func datasync(f *os.File) error {
	ringOnce.Do(func() {
		if os.Getenv("CHRONIK_IO_URING") == "off" {
			return
		}
		theRing, _ = newUring()
	})
	r := theRing
	if r == nil || r.dead.Load() {
		return fdatasync(f)
	}
	err, ok := r.fdatasync(f)
	if ok {
		if err != nil {
			return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: err}
		}
		return nil
	}
	serr := fdatasync(f)
	if err == syscall.EINVAL && serr == nil {
		r.dead.Store(true) // the ring refuses what the system call does
	}
	return serr
}

// fdatasync is the system call, retried on EINTR. Like the ring's, it
// holds f open through the call (RawConn.Control), so a concurrent Close
// waits instead of freeing the descriptor number for another file.
func fdatasync(f *os.File) error {
	var serr error
	rc, err := f.SyscallConn()
	if err == nil {
		err = rc.Control(func(fd uintptr) {
			for {
				if serr = syscall.Fdatasync(int(fd)); serr != syscall.EINTR {
					return
				}
			}
		})
	}
	if err == nil {
		err = serr
	}
	if err != nil {
		return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: err}
	}
	return nil
}

func newUring() (_ *uring, err error) {
	var p uringParams
	fd, _, errno := syscall.Syscall(unix.SYS_IO_URING_SETUP, ringEntries, uintptr(unsafe.Pointer(&p)), 0)
	if errno != 0 {
		return nil, errno
	}
	r := &uring{fd: int(fd), slots: make(chan uint32, ringEntries)}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	if p.features&uringFeatSingleMmap == 0 {
		return nil, errors.New("io_uring without IORING_FEAT_SINGLE_MMAP")
	}
	sqSize := int(p.sqOff.array) + int(p.sqEntries)*4
	cqSize := int(p.cqOff.cqes) + int(p.cqEntries)*cqeSize
	if r.sqMem, err = unix.Mmap(r.fd, uringOffSQRing, max(sqSize, cqSize), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		return nil, err
	}
	r.cqMem = r.sqMem
	if r.sqes, err = unix.Mmap(r.fd, uringOffSQEs, int(p.sqEntries)*sqeSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		return nil, err
	}
	sq, cq := unsafe.Pointer(&r.sqMem[0]), unsafe.Pointer(&r.cqMem[0])
	r.sqTail = (*uint32)(unsafe.Add(sq, p.sqOff.tail))
	r.sqMask = *(*uint32)(unsafe.Add(sq, p.sqOff.ringMask))
	r.sqArray = unsafe.Add(sq, p.sqOff.array)
	r.cqHead = (*uint32)(unsafe.Add(cq, p.cqOff.head))
	r.cqTail = (*uint32)(unsafe.Add(cq, p.cqOff.tail))
	r.cqMask = *(*uint32)(unsafe.Add(cq, p.cqOff.ringMask))
	r.cqes = unsafe.Add(cq, p.cqOff.cqes)

	// The eventfd is non-blocking, so os.NewFile registers it with the
	// netpoller and the reaper's Read parks instead of blocking a thread.
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return nil, err
	}
	r.efd = os.NewFile(uintptr(efd), "io_uring-eventfd")
	e := int32(efd)
	if _, _, errno := syscall.Syscall6(unix.SYS_IO_URING_REGISTER, fd, uringRegisterEventfd, uintptr(unsafe.Pointer(&e)), 1, 0, 0); errno != 0 {
		return nil, errno
	}
	// The kernel runs at most 4 per CPU of a ring's fsyncs at once by
	// default; let every slot run (as many as the threads that made the
	// system calls before). Older kernels keep their default.
	workers := [2]uint32{ringEntries, 0}
	syscall.Syscall6(unix.SYS_IO_URING_REGISTER, fd, uringRegisterIOWQMaxWorkers, uintptr(unsafe.Pointer(&workers)), 2, 0, 0)
	for i := range r.done {
		r.done[i] = make(chan int32, 1)
		r.slots <- uint32(i)
	}
	go r.reap()
	return r, nil
}

func (r *uring) close() {
	if r.sqes != nil {
		unix.Munmap(r.sqes)
	}
	if r.sqMem != nil {
		unix.Munmap(r.sqMem)
	}
	if r.efd != nil {
		r.efd.Close()
	}
	syscall.Close(r.fd)
}

// fdatasync submits an fdatasync of f and waits for it. ok is false when
// the ring could not do it (the caller makes the system call instead);
// err is then EINVAL if the ring's answer was EINVAL.
func (r *uring) fdatasync(f *os.File) (err error, ok bool) {
	slot := <-r.slots
	defer func() { r.slots <- slot }()
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, false
	}
	var (
		res       int32
		submitted bool
	)
	// Control holds f open until the sync is done, not only while it is
	// submitted: an io-wq worker looks the descriptor up when it runs the
	// request (since Linux 5.18), so the number must still name this file
	// then. A Close meanwhile waits for Control to return.
	cerr := rc.Control(func(fd uintptr) {
		if submitted = r.submit(int32(fd), slot); submitted {
			res = <-r.done[slot]
		}
	})
	if cerr != nil || !submitted {
		return nil, false
	}
	switch {
	case res == resRingFailed:
		return nil, false
	case res == -int32(syscall.EINVAL):
		// A file without fsync, or a kernel without IORING_OP_FSYNC:
		// the caller tries the system call (and tells them apart).
		return syscall.EINVAL, false
	case res < 0:
		return syscall.Errno(-res), true
	}
	return nil, true
}

// submit queues one IORING_OP_FSYNC and enters the kernel to submit it.
func (r *uring) submit(fd int32, slot uint32) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	tail := atomic.LoadUint32(r.sqTail)
	idx := tail & r.sqMask
	sqe := r.sqes[int(idx)*sqeSize : int(idx+1)*sqeSize]
	clear(sqe)
	sqe[0] = uringOpFsync
	*(*int32)(unsafe.Pointer(&sqe[4])) = fd
	*(*uint32)(unsafe.Pointer(&sqe[28])) = uringFsyncDatasync
	*(*uint64)(unsafe.Pointer(&sqe[32])) = uint64(slot)
	*(*uint32)(unsafe.Add(r.sqArray, idx*4)) = idx
	atomic.StoreUint32(r.sqTail, tail+1)
	for {
		n, _, errno := syscall.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), 1, 0, 0, 0, 0)
		switch {
		case errno == syscall.EINTR || errno == syscall.EAGAIN || errno == syscall.EBUSY:
			continue
		case errno != 0 || n != 1:
			// The entry may still be in the queue; the ring cannot be
			// trusted any more.
			r.dead.Store(true)
			return false
		}
		return true
	}
}

// resRingFailed is delivered to the waiters when the ring stops working:
// they make the system call instead.
const resRingFailed = 1

// reap delivers completions: each one posted signals the eventfd.
func (r *uring) reap() {
	var buf [8]byte
	for {
		if _, err := r.efd.Read(buf[:]); err != nil {
			r.dead.Store(true)
			for _, ch := range r.done {
				select {
				case ch <- resRingFailed:
				default:
				}
			}
			return
		}
		head := atomic.LoadUint32(r.cqHead)
		tail := atomic.LoadUint32(r.cqTail)
		for ; head != tail; head++ {
			cqe := unsafe.Add(r.cqes, uintptr(head&r.cqMask)*cqeSize)
			slot := *(*uint64)(cqe)
			res := *(*int32)(unsafe.Add(cqe, 8))
			if slot < ringEntries {
				r.done[slot] <- res
			}
		}
		atomic.StoreUint32(r.cqHead, head)
	}
}
