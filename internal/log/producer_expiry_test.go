package log

import (
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable Options.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func producerIDs(p *Partition) map[int64]bool {
	out := map[int64]bool{}
	for _, pi := range p.Producers() {
		out[pi.ProducerID] = true
	}
	return out
}

// TestExpireProducers: producer.id.expiration.ms forgets producers idle
// that long with no transaction open, keeps the others, lets a forgotten
// producer go on at any sequence, and does not count idle time across a
// restart (it is not persisted).
func TestExpireProducers(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	dir := t.TempDir()
	opts := Options{Logger: testLogger(t), Now: clock.now}
	p, err := Open(dir, "t", 0, Config{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	appendB := func(pid int64, seq int32, attrs int16) {
		t.Helper()
		b := makeBatch(batchSpec{idempotent: true, pid: pid, seq: seq, attrs: attrs})
		if _, err := p.Append(b); err != nil {
			t.Fatalf("append pid %d seq %d: %v", pid, seq, err)
		}
	}
	appendB(1, 0, 0)
	appendB(2, 0, 0)
	appendB(3, 0, 0x10) // transactional: a transaction stays open
	clock.add(30 * time.Minute)
	appendB(2, 1, 0)
	clock.add(40 * time.Minute) // pid 1 and 3 idle 70 min, pid 2 40 min

	if n := p.ExpireProducers(time.Hour); n != 1 {
		t.Fatalf("expired %d producers, want 1 (pid 1)", n)
	}
	if got := producerIDs(p); got[1] || !got[2] || !got[3] {
		t.Fatalf("producers %v after expiry: want 2 and 3 (transaction open), not 1", got)
	}
	appendB(1, 7, 0) // forgotten: any sequence is accepted, as a new producer's
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}

	clock.add(2 * time.Hour) // idle across a restart: the clock starts over
	p, err = Open(dir, "t", 0, Config{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if n := p.ExpireProducers(time.Hour); n != 0 {
		t.Fatalf("expired %d producers right after a restart, want 0", n)
	}
	clock.add(61 * time.Minute)
	if n := p.ExpireProducers(time.Hour); n != 2 {
		t.Fatalf("expired %d producers an hour after the restart, want 2 (pids 1 and 2)", n)
	}
	if got := producerIDs(p); len(got) != 1 || !got[3] {
		t.Fatalf("producers %v: want only 3, whose transaction is open", got)
	}
}

// TestManagerExpiresProducers: the Manager runs the expiry on its own.
func TestManagerExpiresProducers(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	cfgFor := func(string) (Config, bool) { return DefaultConfig(), true }
	m, err := OpenManager(t.TempDir(), cfgFor, Options{
		Logger: testLogger(t), Now: clock.now,
		ProducerIDExpiration: time.Hour, ProducerIDExpirationCheck: 5 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	p, err := m.Create("t", 0, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	appendWait(t, p, makeBatch(batchSpec{idempotent: true, pid: 9}))
	time.Sleep(50 * time.Millisecond)
	if got := producerIDs(p); !got[9] {
		t.Fatalf("producers %v: pid 9 expired before its time", got)
	}
	clock.add(2 * time.Hour)
	deadline := time.Now().Add(10 * time.Second)
	for producerIDs(p)[9] {
		if time.Now().After(deadline) {
			t.Fatal("pid 9 still there 10 s after it should have expired")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
