package broker_test

// Resource limits over raw connections: idle and slow clients, connection
// counts, thousands of idle connections, request bytes in flight.

import (
	"encoding/binary"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-stream/chronik/broker"
)

// apiVersions checks that the connection is served.
func (c *rawConn) apiVersions(corr int32) {
	c.t.Helper()
	req := kmsg.NewPtrApiVersionsRequest()
	req.SetVersion(3)
	req.ClientSoftwareName, req.ClientSoftwareVersion = "limits", "1"
	if r := c.roundTrip(req, corr).(*kmsg.ApiVersionsResponse); r.ErrorCode != 0 {
		c.t.Fatalf("ApiVersions: error %d", r.ErrorCode)
	}
}

func TestIdleConnectionsClosed(t *testing.T) {
	t.Parallel()
	const idle = 400 * time.Millisecond
	_, addr := startBroker(t, func(c *broker.Config) { c.ConnectionsMaxIdle = idle })
	createTopic(t, addr, "idle", 1, nil)

	t.Run("silent", func(t *testing.T) {
		t.Parallel()
		c := dialRaw(t, addr)
		c.apiVersions(1)
		c.expectClosed(idle+3*time.Second, false)
	})
	t.Run("partial-size", func(t *testing.T) {
		t.Parallel()
		c := dialRaw(t, addr)
		c.mustSend([]byte{0, 0})
		c.expectClosed(idle+3*time.Second, false)
	})
	t.Run("slowloris-body", func(t *testing.T) {
		t.Parallel()
		// A byte every 100ms is activity, but the frame must be whole
		// within the idle timeout.
		c := dialRaw(t, addr)
		req := kmsg.NewPtrApiVersionsRequest()
		req.SetVersion(3)
		req.ClientSoftwareName, req.ClientSoftwareVersion = "slow", strings.Repeat("1", 100)
		frame := encodeReq(req, 1)
		start := time.Now()
		for i := 0; i < len(frame)-1; i++ {
			if c.send(frame[i:i+1]) != nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
			if time.Since(start) > idle+3*time.Second {
				t.Fatal("the slow frame was not cut off")
			}
		}
		c.expectClosed(idle+3*time.Second, false)
	})
	t.Run("long-poll-is-not-idle", func(t *testing.T) {
		t.Parallel()
		c := dialRaw(t, addr)
		f := kmsg.NewPtrFetchRequest()
		f.SetVersion(11)
		f.MaxWaitMillis, f.MinBytes, f.MaxBytes = int32(3*idle/time.Millisecond), 1, 1<<20
		f.Topics = []kmsg.FetchRequestTopic{{Topic: "idle", Partitions: []kmsg.FetchRequestTopicPartition{{Partition: 0, FetchOffset: 0, PartitionMaxBytes: 1 << 20, CurrentLeaderEpoch: -1, LogStartOffset: -1}}}}
		start := time.Now()
		c.roundTrip(f, 1)
		if time.Since(start) < 2*idle {
			t.Fatalf("the fetch returned after %v, before its max wait", time.Since(start))
		}
		c.apiVersions(2)
	})
	t.Run("active", func(t *testing.T) {
		t.Parallel()
		c := dialRaw(t, addr)
		for i := range 10 {
			c.apiVersions(int32(i))
			time.Sleep(idle / 3)
		}
	})
}

func TestMaxConnectionsPerIP(t *testing.T) {
	t.Parallel()
	_, addr := startBroker(t, func(c *broker.Config) { c.MaxConnectionsPerIP = 3 })
	var conns []*rawConn
	for i := range 3 {
		c := dialRaw(t, addr)
		c.apiVersions(int32(i))
		conns = append(conns, c)
	}
	extra := dialRaw(t, addr)
	extra.send(encodeReq(kmsg.NewPtrApiVersionsRequest(), 1))
	extra.expectClosed(5*time.Second, true)

	// A closed connection frees its slot.
	conns[0].nc.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c := dialRaw(t, addr)
		c.send(encodeReq(kmsg.NewPtrApiVersionsRequest(), 1))
		if _, _, err := c.readFrame(2 * time.Second); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no connection was admitted after one closed")
		}
		time.Sleep(50 * time.Millisecond)
	}

	// An override of 0 refuses the address.
	_, addr2 := startBroker(t, func(c *broker.Config) {
		c.BrokerConfigs = map[string]string{"max.connections.per.ip.overrides": "127.0.0.1:0"}
	})
	c := dialRaw(t, addr2)
	c.send(encodeReq(kmsg.NewPtrApiVersionsRequest(), 1))
	c.expectClosed(5*time.Second, true)
}

func TestMaxConnections(t *testing.T) {
	t.Parallel()
	_, addr := startBroker(t, func(c *broker.Config) {
		c.BrokerConfigs = map[string]string{"max.connections": "2"}
	})
	a, b := dialRaw(t, addr), dialRaw(t, addr)
	a.apiVersions(1)
	b.apiVersions(1)
	c := dialRaw(t, addr)
	c.send(encodeReq(kmsg.NewPtrApiVersionsRequest(), 1))
	c.expectClosed(5*time.Second, true)
}

// TestManyIdleConnections holds thousands of idle connections (bounded by
// the file descriptor limit) and checks that the broker still serves and
// that an idle connection costs little heap: read and write buffers are
// only held while there is something to read or write. Not parallel, so
// the heap measure is ours alone.
func TestManyIdleConnections(t *testing.T) {
	n := 3000
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err == nil {
		// Both ends live in this process.
		n = min(n, int(rl.Cur)/2-200)
	}
	if testing.Short() {
		n = min(n, 300)
	}
	if n < 100 {
		t.Skipf("file descriptor limit %d is too low", rl.Cur)
	}
	_, addr := startBroker(t)
	createTopic(t, addr, "busy", 1, nil)

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range n {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("dial %d: %v", len(conns), err)
		}
		conns = append(conns, c)
	}
	// Every connection sent one request and read its answer, so each has
	// been through the broker's reader and writer.
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := kmsg.NewPtrApiVersionsRequest()
			c.SetDeadline(time.Now().Add(30 * time.Second))
			if _, err := c.Write(encodeReq(req, int32(i))); err != nil {
				errs <- err
				return
			}
			var hdr [4]byte
			if _, err := c.Read(hdr[:]); err != nil {
				errs <- err
				return
			}
			buf := make([]byte, binary.BigEndian.Uint32(hdr[:]))
			for got := 0; got < len(buf); {
				m, err := c.Read(buf[got:])
				if err != nil {
					errs <- err
					return
				}
				got += m
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("an idle connection was not served: %v", err)
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	perConn := (int64(after.HeapInuse) - int64(before.HeapInuse)) / int64(n)
	t.Logf("%d idle connections: %d bytes of heap each (both ends)", n, perConn)
	if perConn > 48<<10 {
		t.Errorf("an idle connection holds %d bytes of heap; want well under the 128 KiB of dedicated buffers", perConn)
	}
	produceConsume(t, addr, "busy", 10)
}

// TestRequestBytesBackpressure: with budgets far below what the clients
// send at once, every produce still succeeds (frames wait for bytes; none
// is refused), including frames larger than a whole budget.
func TestRequestBytesBackpressure(t *testing.T) {
	t.Parallel()
	_, addr := startBroker(t, func(c *broker.Config) {
		c.QueuedMaxRequestBytes = 256 << 10
		c.MaxConnRequestBytesInFlight = 96 << 10
	})
	createTopic(t, addr, "bp", 4, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for p := range int32(4) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchMaxBytes(1<<20), kgo.MaxBufferedRecords(64))
			if err != nil {
				errs <- err
				return
			}
			defer cl.Close()
			ctx := testCtx(t)
			val := make([]byte, 40<<10)
			var pwg sync.WaitGroup
			for i := range 60 {
				pwg.Add(1)
				cl.Produce(ctx, &kgo.Record{Topic: "bp", Partition: p, Value: val}, func(_ *kgo.Record, err error) {
					defer pwg.Done()
					if err != nil {
						errs <- fmt.Errorf("partition %d record %d: %w", p, i, err)
					}
				})
			}
			pwg.Wait()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for p := range int32(4) {
		consumeFranz(t, addr, "bp", p, 60)
	}
}

// TestLargeFrameOnPlaintextListener: sasl.server.max.receive.size applies
// only before SASL authentication, never on a PLAINTEXT listener.
func TestLargeFrameOnPlaintextListener(t *testing.T) {
	t.Parallel()
	_, addr := startBroker(t)
	c := dialRaw(t, addr)
	req := kmsg.NewPtrApiVersionsRequest()
	req.SetVersion(3)
	req.ClientSoftwareName, req.ClientSoftwareVersion = "big", strings.Repeat("9", 20000)
	c.roundTrip(req, 1)
}
