package broker

import (
	"errors"
	"net"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestByteSem(t *testing.T) {
	s := newByteSem(100)
	never := make(chan struct{})
	if err := s.acquire(60, never); err != nil {
		t.Fatal(err)
	}
	// 50 does not fit: it waits, and so does a later 10 that would fit
	// (FIFO: a large waiter is not starved by small ones).
	var mu sync.Mutex
	var order []int64
	var wg sync.WaitGroup
	for _, n := range []int64{50, 10} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.acquire(n, never); err != nil {
				t.Error(err)
			}
			mu.Lock()
			order = append(order, n)
			mu.Unlock()
		}()
		time.Sleep(20 * time.Millisecond) // queue in this order
	}
	time.Sleep(20 * time.Millisecond)
	mu.Lock()
	if len(order) != 0 {
		t.Fatalf("acquired over the budget: %v", order)
	}
	mu.Unlock()
	s.release(60)
	wg.Wait()
	slices.Sort(order)
	if !slices.Equal(order, []int64{10, 50}) || s.used != 60 {
		t.Fatalf("granted %v (used %d)", order, s.used)
	}
	// Larger than the whole budget: takes all of it.
	s.release(60)
	if err := s.acquire(1000, never); err != nil {
		t.Fatal(err)
	}
	cancel := make(chan struct{})
	done := make(chan error)
	go func() { done <- s.acquire(1, cancel) }()
	close(cancel)
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("cancelled acquire: %v", err)
	}
	s.release(1000)
	if s.used != 0 || len(s.waiters) != 0 {
		t.Fatalf("left used %d, %d waiters", s.used, len(s.waiters))
	}
	var nilSem *byteSem
	if err := nilSem.acquire(1<<40, never); err != nil {
		t.Fatal(err)
	}
	nilSem.release(1 << 40)
}

func TestConnLimiter(t *testing.T) {
	l := newConnLimiter(&Config{MaxConnections: 3, MaxConnectionsPerIP: 2, MaxConnectionsPerIPOverrides: map[string]int{"10.0.0.9": 0, "10.0.0.8": 3}})
	for _, c := range []struct {
		ip string
		ok bool
	}{{"10.0.0.1", true}, {"10.0.0.1", true}, {"10.0.0.1", false}, {"10.0.0.9", false}, {"10.0.0.8", true}, {"10.0.0.8", false}} {
		if err := l.admit(c.ip); (err == nil) != c.ok {
			t.Fatalf("admit %s: %v, want ok=%v", c.ip, err, c.ok)
		}
	}
	l.release("10.0.0.1")
	if err := l.admit("10.0.0.8"); err != nil {
		t.Fatalf("after a release: %v", err)
	}
}

// FuzzRequestDecode runs random bytes through the decode path of conn.go:
// parseRequestHeader, then decodeRequestBody for a registered key at a
// version we serve (key and version chosen by the first input). Properties:
// it never panics; a header that parses has a body within the frame; and a
// request that decodes encodes again and decodes to the same encoding.
func FuzzRequestDecode(f *testing.F) {
	keys := make([]int16, 0, len(handlers))
	for k := range handlers {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	for i, k := range keys {
		h := handlers[k]
		for v := h.min; v <= h.max; v++ {
			req := kmsg.RequestForKey(k)
			req.SetVersion(v)
			body := req.AppendTo(nil)
			if req.IsFlexible() {
				body = append([]byte{0}, body...)
			}
			f.Add(uint16(i), uint16(v-h.min), body)
		}
	}
	f.Add(uint16(0), uint16(0), []byte{})
	f.Add(uint16(0), uint16(0), []byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, ki, vi uint16, body []byte) {
		// The raw bytes as a whole frame.
		if h, err := parseRequestHeader(body); err == nil && len(h.body) > len(body) {
			t.Fatalf("header body of %d bytes from a %d-byte frame", len(h.body), len(body))
		}
		k := keys[int(ki)%len(keys)]
		hd := handlers[k]
		v := hd.min + int16(int(vi)%int(hd.max-hd.min+1))
		frame := []byte{byte(k >> 8), byte(k), byte(v >> 8), byte(v), 0, 0, 0, 7, 0, 4, 'f', 'u', 'z', 'z'}
		frame = append(frame, body...)
		h, err := parseRequestHeader(frame)
		if err != nil || h.key != k || h.version != v || h.clientID == nil || *h.clientID != "fuzz" {
			t.Fatalf("header of a well-formed frame: %+v, %v", h, err)
		}
		req, err := decodeRequestBody(h.key, h.version, h.body)
		if err != nil {
			return
		}
		enc := req.AppendTo(nil)
		again := kmsg.RequestForKey(k)
		again.SetVersion(v)
		if err := again.ReadFrom(enc); err != nil {
			t.Fatalf("%s v%d: our own encoding does not decode: %v", kmsg.NameForKey(k), v, err)
		}
		if enc2 := again.AppendTo(nil); string(enc2) != string(enc) {
			t.Fatalf("%s v%d: encoding is not stable", kmsg.NameForKey(k), v)
		}
	})
}
