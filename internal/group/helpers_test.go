package group

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-stream/chronik/internal/vfs"
)

// fakeClock is a manual clock: timers fire only in Advance, in deadline
// order, on the caller's goroutine (with no clock lock held).
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c       *fakeClock
	at      time.Time
	f       func()
	stopped bool
	fired   bool
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if t.stopped || t.fired {
		return false
	}
	t.stopped = true
	return true
}

// Advance moves time forward by d, firing every timer that falls due, the
// ones armed by fired timers included.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	target := c.now.Add(d)
	for {
		live := c.timers[:0]
		for _, t := range c.timers {
			if !t.stopped && !t.fired {
				live = append(live, t)
			}
		}
		c.timers = live
		sort.SliceStable(c.timers, func(i, j int) bool { return c.timers[i].at.Before(c.timers[j].at) })
		if len(c.timers) == 0 || c.timers[0].at.After(target) {
			break
		}
		t := c.timers[0]
		t.fired = true
		if t.at.After(c.now) {
			c.now = t.at
		}
		c.mu.Unlock()
		t.f()
		c.mu.Lock()
	}
	c.now = target
	c.mu.Unlock()
}

type testEnv struct {
	t     *testing.T
	fs    *vfs.MemFS
	clock *fakeClock
	c     *Coordinator
	cfg   Config
}

func testLogger(t testing.TB) *slog.Logger {
	lv := slog.LevelWarn
	if os.Getenv("CHRONIK_TEST_DEBUG") != "" {
		lv = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: lv}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}

// newEnv opens a coordinator on a MemFS with a fake clock, no initial
// rebalance delay and every partition existing except in topic "nope".
func newEnv(t *testing.T, mods ...func(*Config)) *testEnv {
	t.Helper()
	e := &testEnv{t: t, fs: vfs.NewMemFS(), clock: newFakeClock()}
	e.cfg = Config{
		Dir:                   "/data/__groups",
		FS:                    e.fs,
		Logger:                testLogger(t),
		Clock:                 e.clock,
		InitialRebalanceDelay: -1,
		PartitionExists:       func(topic string, _ int32) bool { return topic != "nope" },
	}
	for _, m := range mods {
		m(&e.cfg)
	}
	e.open()
	t.Cleanup(func() { e.c.Close() })
	return e
}

// open (re)opens the coordinator on e.fs and waits for the load.
func (e *testEnv) open() {
	e.t.Helper()
	c, err := Open(e.cfg)
	if err != nil {
		e.t.Fatalf("Open: %v", err)
	}
	if err := c.WaitLoaded(context.Background()); err != nil {
		e.t.Fatalf("load: %v", err)
	}
	e.c = c
}

// restart closes the coordinator and opens it again on the same files.
func (e *testEnv) restart() {
	e.t.Helper()
	if err := e.c.Close(); err != nil {
		e.t.Fatalf("Close: %v", err)
	}
	e.open()
}

// crash drops everything not fsynced and opens a coordinator on what is
// left; the old one keeps running on the old files, unseen.
func (e *testEnv) crash() {
	e.t.Helper()
	old := e.c
	e.fs = e.fs.Crash()
	e.cfg.FS = e.fs
	e.open()
	e.t.Cleanup(func() { old.Close() })
}

// recv waits (in real time) for a coordinator answer.
func recv[T any](t testing.TB, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatal("no answer within 5s")
		panic("unreachable")
	}
}

// pendingAnswer reports whether ch has no answer yet.
func noAnswer[T any](t testing.TB, ch <-chan T, what string) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("%s answered early: %+v", what, v)
	case <-time.After(20 * time.Millisecond):
	}
}

func wantErr(t testing.TB, what string, got, want error) {
	t.Helper()
	if want == nil {
		if got != nil {
			t.Fatalf("%s: %v, want no error", what, got)
		}
		return
	}
	if !errors.Is(got, want) {
		t.Fatalf("%s: %v, want %v", what, got, want)
	}
}

func consumerMeta(topics ...string) []byte {
	m := kmsg.ConsumerMemberMetadata{Topics: topics}
	return m.AppendTo(nil)
}

// join builds a v4+ JoinGroup of a consumer.
func joinReq(group, member string, topics ...string) JoinRequest {
	return JoinRequest{
		Group:                group,
		MemberID:             member,
		ClientID:             "client",
		ClientHost:           "/127.0.0.1",
		SessionTimeout:       10 * time.Second,
		RebalanceTimeout:     30 * time.Second,
		ProtocolType:         "consumer",
		Protocols:            []Protocol{{Name: "range", Metadata: consumerMeta(topics...)}},
		RequireKnownMemberID: true,
	}
}

// joinNew runs the MEMBER_ID_REQUIRED round trip and sends the real join;
// it returns the join's channel and the member id.
func (e *testEnv) joinNew(req JoinRequest) (<-chan JoinResult, string) {
	e.t.Helper()
	r := recv(e.t, e.c.Join(req))
	wantErr(e.t, "first join", r.Err, kerr.MemberIDRequired)
	if r.MemberID == "" {
		e.t.Fatal("MEMBER_ID_REQUIRED without a member id")
	}
	req.MemberID = r.MemberID
	return e.c.Join(req), r.MemberID
}

// stableGroup makes a Stable group of n members subscribed to topics; it
// returns their ids (leader first) and the generation.
func (e *testEnv) stableGroup(group string, n int, topics ...string) ([]string, int32) {
	e.t.Helper()
	var chs []<-chan JoinResult
	var ids []string
	for range n {
		ch, id := e.joinNew(joinReq(group, "", topics...))
		chs = append(chs, ch)
		ids = append(ids, id)
	}
	e.clock.Advance(0) // the initial delay (none)
	var leader string
	var gen int32
	for _, ch := range chs {
		r := recv(e.t, ch)
		wantErr(e.t, "join", r.Err, nil)
		leader, gen = r.Leader, r.Generation
	}
	var syncs []<-chan SyncResult
	for _, id := range ids {
		req := SyncRequest{Group: group, Generation: gen, MemberID: id}
		if id == leader {
			for _, o := range ids {
				req.Assignments = append(req.Assignments, Assignment{MemberID: o, Assignment: []byte("for " + o)})
			}
		}
		syncs = append(syncs, e.c.Sync(req))
	}
	for i, ch := range syncs {
		r := recv(e.t, ch)
		wantErr(e.t, "sync", r.Err, nil)
		if string(r.Assignment) != "for "+ids[i] {
			e.t.Fatalf("member %s got assignment %q", ids[i], r.Assignment)
		}
	}
	// The answers go out before the apply that sent them returns: wait for
	// it, so no timer is armed after the test moves the clock.
	e.waitState(group, Stable)
	out := []string{leader}
	for _, id := range ids {
		if id != leader {
			out = append(out, id)
		}
	}
	return out, gen
}

// state returns a group's state.
func (e *testEnv) state(group string) State {
	e.c.mu.RLock()
	g := e.c.groups[group]
	e.c.mu.RUnlock()
	if g == nil {
		return Dead
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.state
}

// waitState waits (in real time) for a group to reach s.
func (e *testEnv) waitState(group string, s State) {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for e.state(group) != s {
		if time.Now().After(deadline) {
			e.t.Fatalf("group %s is %s, want %s", group, e.state(group), s)
		}
		time.Sleep(time.Millisecond)
	}
}

func (e *testEnv) commit(req CommitRequest) CommitResult {
	e.t.Helper()
	return recv(e.t, e.c.Commit(req))
}

func simpleCommit(group string, offsets map[string][]int64) CommitRequest {
	req := CommitRequest{Group: group, Generation: -1, RetentionTime: -1}
	topics := make([]string, 0, len(offsets))
	for t := range offsets {
		topics = append(topics, t)
	}
	sort.Strings(topics)
	for _, t := range topics {
		ct := CommitTopic{Topic: t}
		for p, o := range offsets[t] {
			md := "md"
			ct.Partitions = append(ct.Partitions, CommitPartition{Partition: int32(p), Offset: o, LeaderEpoch: 3, Metadata: &md, Timestamp: -1})
		}
		req.Topics = append(req.Topics, ct)
	}
	return req
}

func allNil(t testing.TB, what string, res CommitResult) {
	t.Helper()
	for i, ps := range res.Errs {
		for j, err := range ps {
			if err != nil {
				t.Fatalf("%s: topic %d partition %d: %v", what, i, j, err)
			}
		}
	}
}
