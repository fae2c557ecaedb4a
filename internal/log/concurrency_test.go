package log

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/chronik-stream/chronik/internal/records"
	"github.com/chronik-stream/chronik/internal/vfs"
)

// Readers running alongside appenders and rolls see only whole, CRC-valid
// batches below the HW they were given.
func TestConcurrentReadersAndAppenders(t *testing.T) {
	p := openTest(t, t.TempDir(), Config{SegmentBytes: 5000, IndexIntervalBytes: 256}, Options{})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for a := 0; a < 3; a++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 150; i++ {
				res, err := p.Append(makeBatch(batchSpec{records: 1 + i%3, valueSize: 40}))
				if err != nil {
					t.Error(err)
					return
				}
				if i%5 == 0 {
					if err := p.WaitDurable(context.Background(), res.LastOffset); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	var readers sync.WaitGroup
	for r := 0; r < 3; r++ {
		readers.Add(1)
		go func() {
			defer readers.Done()
			next := int64(0)
			for {
				select {
				case <-stop:
					return
				default:
				}
				rr, err := p.Read(next, 700, r == 0)
				if err != nil {
					t.Error(err)
					return
				}
				if len(rr.Records) == 0 {
					select {
					case <-p.Notify():
					case <-stop:
						return
					}
					continue
				}
				err = records.Split(rr.Records, func(h records.Header, b []byte) error {
					if h.BaseOffset != next && next != 0 {
						t.Errorf("gap: batch %d after %d", h.BaseOffset, next)
					}
					if h.LastOffset() >= rr.HighWatermark {
						t.Errorf("batch %d past hw %d", h.LastOffset(), rr.HighWatermark)
					}
					next = h.LastOffset() + 1
					return records.CheckCRC(b)
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	_, _, leo := p.Offsets()
	must(t, p.WaitDurable(context.Background(), leo-1))
	close(stop)
	readers.Wait()
}

func TestFlushIntervalMode(t *testing.T) {
	fs := vfs.NewMemFS()
	p := openTest(t, "/data/t-0", Config{FlushInterval: time.Hour}, Options{FS: fs})
	release := blockSyncs(fs)
	defer release()
	res, err := p.Append(makeBatch(batchSpec{records: 2}))
	must(t, err)
	// Visible at once, without an fsync.
	if _, hw, leo := p.Offsets(); hw != 2 || leo != 2 {
		t.Fatalf("hw %d leo %d", hw, leo)
	}
	must(t, p.WaitDurable(context.Background(), res.LastOffset))
	rr, err := p.Read(0, 1000, true)
	if err != nil || len(rr.Records) == 0 {
		t.Fatalf("read: %v %d", err, len(rr.Records))
	}
	// Back to the default: the next append waits for its fsync again.
	release()
	p.SetConfig(Config{})
	res, err = p.Append(makeBatch(batchSpec{}))
	must(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	must(t, p.WaitDurable(ctx, res.LastOffset))
}

func TestCloseAndDelete(t *testing.T) {
	fs := vfs.NewMemFS()
	p, err := Open("/data/t-0", "t", 0, Config{}, Options{FS: fs, Logger: testLogger(t)})
	must(t, err)
	appendWait(t, p, makeBatch(batchSpec{}))
	ch := p.Notify()
	must(t, p.Close())
	must(t, p.Close()) // idempotent
	select {
	case <-ch:
	default:
		t.Fatal("Notify channel not closed by Close")
	}
	if _, err := p.Append(makeBatch(batchSpec{})); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}
	if err := p.WaitDurable(context.Background(), 5); !errors.Is(err, ErrClosed) {
		t.Fatalf("wait after close: %v", err)
	}
	if _, err := p.Read(0, 100, true); !errors.Is(err, ErrClosed) {
		t.Fatalf("read after close: %v", err)
	}
	p, err = Open("/data/t-0", "t", 0, Config{}, Options{FS: fs, Logger: testLogger(t)})
	must(t, err)
	must(t, p.Delete())
	if names, _ := fs.ReadDir("/data"); len(names) != 0 {
		t.Fatalf("left behind: %v", names)
	}
	// The deletion is durable.
	if names, _ := fs.Crash().ReadDir("/data"); len(names) != 0 {
		t.Fatalf("after crash: %v", names)
	}
}
