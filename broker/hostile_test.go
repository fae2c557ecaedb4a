package broker_test

// A hostile-client soak: thousands of held connections, slowloris partial
// frames, oversized frames before SASL authentication and a produce flood,
// while a well-behaved client produces (acks=all) and reads back.

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-stream/chronik/broker"
)

// hostileHeapBound is the most heap (runtime.MemStats.HeapInuse, this whole
// process: broker, both ends of the 2000 connections and the franz-go
// clients) allowed at any 50ms sample during the soak. Measured: 105-121 MiB
// peak on a 2-core box (about 100 MiB under -race, which slows the flood);
// the flood's frames in flight dominate. 256 MiB leaves room for GC timing
// without hiding an allocation per connection or per declared length.
const hostileHeapBound = 256 << 20

// TestHostileClients: 200 slowloris connections trickle frames that declare
// 64 KiB (a realistic request), 12.5 MiB of the 512 MiB
// queued.max.request.bytes between them.
func TestHostileClients(t *testing.T) {
	if testing.Short() {
		t.Skip("soak test")
	}
	runHostile(t, 64<<10)
}

// TestHostileSlowlorisLargeFrames is the same with slowloris frames that
// declare 64 MiB: the broker takes a frame's bytes from
// queued.max.request.bytes only about as fast as they arrive (conn.go's
// readBody), so trickling connections hold little of it and of the heap,
// and the others keep being served.
func TestHostileSlowlorisLargeFrames(t *testing.T) {
	runHostile(t, 64<<20)
}

func runHostile(t *testing.T, slowDeclared uint32) {
	const (
		held      = 2000 // connections opened and held
		slowloris = 200  // of them, trickling partial frames
		oversized = 100  // pre-authentication oversized frames on the SASL listener
		flooders  = 4
		soak      = 10 * time.Second
	)
	// Both ends of every connection live in this process.
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Skipf("getrlimit: %v", err)
	}
	const needFDs = 2*held + 1000
	if rl.Cur < needFDs {
		if rl.Max < needFDs {
			t.Skipf("RLIMIT_NOFILE hard limit %d is below the %d this test needs", rl.Max, needFDs)
		}
		old := rl
		rl.Cur = needFDs
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			t.Skipf("raising RLIMIT_NOFILE to %d: %v", needFDs, err)
		}
		t.Cleanup(func() { syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old) })
	}

	_, addrs := startListeners(t, []broker.Listener{{Protocol: broker.ProtocolPlaintext}, {Protocol: broker.ProtocolSASLPlaintext}})
	addr, saslAddr := addrs["PLAINTEXT"], addrs["SASL_PLAINTEXT"]
	createTopic(t, addr, "normal", 1, nil)
	createTopic(t, addr, "flood", flooders, nil)

	// Heap sampler.
	var peak atomic.Uint64
	stopSampler := make(chan struct{})
	samplerDone := make(chan struct{})
	go func() {
		defer close(samplerDone)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stopSampler:
				return
			case <-tick.C:
			}
		}
	}()

	// 1. Held connections, each served once (ApiVersions) so it has been
	// through the broker's reader and writer.
	conns := make([]net.Conn, 0, held)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for len(conns) < held {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("dial %d: %v", len(conns), err)
		}
		conns = append(conns, c)
	}
	{
		var wg sync.WaitGroup
		errs := make(chan error, held)
		for i, c := range conns[slowloris:] {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c.SetDeadline(time.Now().Add(20 * time.Second))
				defer c.SetDeadline(time.Time{})
				if _, err := c.Write(encodeReq(kmsg.NewPtrApiVersionsRequest(), int32(i))); err != nil {
					errs <- err
					return
				}
				var hdr [4]byte
				if _, err := io.ReadFull(c, hdr[:]); err != nil {
					errs <- err
					return
				}
				if _, err := io.CopyN(io.Discard, c, int64(binary.BigEndian.Uint32(hdr[:]))); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("a held connection was not served: %v", err)
		}
	}

	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	var bg sync.WaitGroup

	// 2. Slowloris: the first 200 held connections declare a frame of
	// slowDeclared bytes and send its body 8 bytes every 200ms.
	for _, c := range conns[:slowloris] {
		bg.Add(1)
		go func() {
			defer bg.Done()
			var hdr [4]byte
			binary.BigEndian.PutUint32(hdr[:], slowDeclared)
			if _, err := c.Write(hdr[:]); err != nil {
				return
			}
			tick := time.NewTicker(200 * time.Millisecond)
			defer tick.Stop()
			junk := []byte{0, 0, 0, 0, 0, 0, 0, 0}
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				c.SetWriteDeadline(time.Now().Add(time.Second))
				if _, err := c.Write(junk); err != nil {
					return // closed by the broker: fine
				}
			}
		}()
	}

	// 3. Oversized declared lengths before authentication on the SASL
	// listener: each must be closed promptly, without an answer.
	var oversizedClosed, oversizedOpen atomic.Int64
	bg.Add(1)
	go func() {
		defer bg.Done()
		lengths := []uint32{8<<10 + 1, 1 << 20, 100 << 20, 1<<31 - 1, 0xffffffff}
		for i := 0; i < oversized && ctx.Err() == nil; i++ {
			c, err := net.DialTimeout("tcp", saslAddr, 5*time.Second)
			if err != nil {
				oversizedOpen.Add(1)
				continue
			}
			var frame [4 + 64]byte
			binary.BigEndian.PutUint32(frame[:], lengths[i%len(lengths)])
			binary.BigEndian.PutUint16(frame[4:], 17) // SaslHandshake key, then junk
			c.Write(frame[:])
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.Copy(io.Discard, c); err == nil || errors.Is(err, net.ErrClosed) || isReset(err) {
				oversizedClosed.Add(1)
			} else {
				oversizedOpen.Add(1)
			}
			c.Close()
		}
	}()

	// 4. Produce flood: 4 clients, 16 KiB records, acks=1, as fast as
	// the broker takes them.
	var flooded atomic.Int64
	for p := range int32(flooders) {
		bg.Add(1)
		go func() {
			defer bg.Done()
			cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()),
				kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite(), kgo.MaxBufferedRecords(256))
			if err != nil {
				t.Error(err)
				return
			}
			defer cl.Close()
			val := make([]byte, 16<<10)
			for ctx.Err() == nil {
				cl.Produce(ctx, &kgo.Record{Topic: "flood", Partition: p, Value: val}, func(_ *kgo.Record, err error) {
					if err == nil {
						flooded.Add(1)
					}
				})
			}
		}()
	}

	// 5. The normal client: acks=all (franz-go's default, idempotent),
	// synchronous batches of 20, for the soak.
	normal := newFranz(t, addr)
	var acked []string
	deadline := time.Now().Add(soak)
	for seq := 0; time.Now().Before(deadline); {
		batch := make([]*kgo.Record, 20)
		for i := range batch {
			batch[i] = &kgo.Record{Topic: "normal", Partition: 0, Value: []byte(strconv.Itoa(seq))}
			seq++
		}
		pctx, pcancel := context.WithTimeout(ctx, 15*time.Second)
		res := normal.ProduceSync(pctx, batch...)
		pcancel()
		for _, r := range res {
			if r.Err != nil {
				t.Fatalf("normal client: record %s not acknowledged: %v", r.Record.Value, r.Err)
			}
			acked = append(acked, string(r.Record.Value))
		}
	}
	cancel()
	bg.Wait()

	// Slowloris connections must have been closed by the broker or still
	// be held without cost; either is fine. The broker must still serve a
	// held connection.
	{
		c := conns[len(conns)-1]
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write(encodeReq(kmsg.NewPtrApiVersionsRequest(), 99)); err != nil {
			t.Errorf("a held connection after the soak: %v", err)
		} else {
			var hdr [4]byte
			if _, err := io.ReadFull(c, hdr[:]); err != nil {
				t.Errorf("a held connection after the soak: %v", err)
			}
		}
	}

	// Every acknowledged record is there, once, in order.
	got := consumeFranz(t, addr, "normal", 0, len(acked))
	for i, r := range got {
		if string(r.Value) != acked[i] || r.Offset != int64(i) {
			t.Fatalf("normal record %d: offset %d value %q, want offset %d value %q", i, r.Offset, r.Value, i, acked[i])
		}
	}

	close(stopSampler)
	<-samplerDone
	t.Logf("normal client: %d records acknowledged (acks=all) and read back; flood: %d records of 16 KiB; "+
		"oversized pre-auth frames: %d closed, %d not closed; peak HeapInuse %d MiB (bound %d MiB)",
		len(acked), flooded.Load(), oversizedClosed.Load(), oversizedOpen.Load(), peak.Load()>>20, hostileHeapBound>>20)
	if len(acked) == 0 {
		t.Error("the normal client acknowledged no records")
	}
	if n := oversizedOpen.Load(); n > 0 {
		t.Errorf("%d connections sending an oversized frame before SASL authentication were not closed", n)
	}
	if p := peak.Load(); p > hostileHeapBound {
		t.Errorf("peak HeapInuse %d MiB exceeds %d MiB", p>>20, hostileHeapBound>>20)
	}
}

func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
