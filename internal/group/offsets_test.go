package group

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/chronik-stream/chronik/internal/vfs"
)

// wantOffsets checks that group has exactly the committed offsets want
// (topic -> partition -> offset), through a fetch of everything and a
// fetch of each partition.
func (e *testEnv) wantOffsets(group string, want map[string]map[int32]int64) {
	e.t.Helper()
	all := e.c.Fetch(FetchRequest{Group: group})
	wantErr(e.t, "fetch all", all.Err, nil)
	n := 0
	for _, t := range all.Topics {
		for _, p := range t.Partitions {
			n++
			w, ok := want[t.Topic][p.Partition]
			if !ok || p.Offset != w || p.Err != nil {
				e.t.Fatalf("group %s: %s/%d is at %d (%v), want %d (present %v)", group, t.Topic, p.Partition, p.Offset, p.Err, w, ok)
			}
		}
	}
	var req FetchRequest
	req.Group = group
	wantN := 0
	for topic, ps := range want {
		ft := FetchTopic{Topic: topic}
		for p := range ps {
			ft.Partitions = append(ft.Partitions, p)
			wantN++
		}
		req.Topics = append(req.Topics, ft)
	}
	if n != wantN {
		e.t.Fatalf("group %s: fetch of everything returned %d offsets, want %d", group, n, wantN)
	}
	res := e.c.Fetch(req)
	for i, t := range res.Topics {
		if t.Topic != req.Topics[i].Topic || len(t.Partitions) != len(req.Topics[i].Partitions) {
			e.t.Fatalf("fetch answered %s with %d partitions, asked %s with %d", t.Topic, len(t.Partitions), req.Topics[i].Topic, len(req.Topics[i].Partitions))
		}
		for _, p := range t.Partitions {
			if p.Offset != want[t.Topic][p.Partition] {
				e.t.Fatalf("group %s: %s/%d fetched at %d, want %d", group, t.Topic, p.Partition, p.Offset, want[t.Topic][p.Partition])
			}
		}
	}
}

func TestOffsetFetchManyPartitionsAndGroups(t *testing.T) {
	e := newEnv(t)
	want := map[string]map[string]map[int32]int64{}
	for gi := range 5 {
		group := fmt.Sprintf("g%d", gi)
		want[group] = map[string]map[int32]int64{}
		offsets := map[string][]int64{}
		for _, topic := range []string{"a", "b"} {
			want[group][topic] = map[int32]int64{}
			for p := range 64 {
				o := int64(gi*1000 + p*7 + len(topic))
				offsets[topic] = append(offsets[topic], o)
				want[group][topic][int32(p)] = o
			}
		}
		allNil(t, "commit", e.commit(simpleCommit(group, offsets)))
	}
	for group, w := range want {
		e.wantOffsets(group, w)
	}
	// Partitions never committed, and unknown groups: -1, "", epoch -1.
	res := e.c.Fetch(FetchRequest{Group: "g1", Topics: []FetchTopic{{Topic: "a", Partitions: []int32{3, 99}}, {Topic: "zzz", Partitions: []int32{0}}}})
	p := res.Topics[0].Partitions
	if p[0].Offset != 1000+21+1 || p[0].Metadata != "md" || p[0].LeaderEpoch != 3 {
		t.Fatalf("committed partition: %+v", p[0])
	}
	if p[1].Offset != -1 || p[1].Metadata != "" || p[1].LeaderEpoch != -1 || p[1].Err != nil {
		t.Fatalf("never committed partition: %+v", p[1])
	}
	if q := res.Topics[1].Partitions[0]; q.Offset != -1 {
		t.Fatalf("unknown topic: %+v", q)
	}
	res = e.c.Fetch(FetchRequest{Group: "nobody", Topics: []FetchTopic{{Topic: "a", Partitions: []int32{0, 1}}}})
	if res.Err != nil || len(res.Topics[0].Partitions) != 2 || res.Topics[0].Partitions[1].Offset != -1 {
		t.Fatalf("unknown group: %+v", res)
	}
	if res := e.c.Fetch(FetchRequest{Group: "nobody"}); res.Err != nil || len(res.Topics) != 0 {
		t.Fatalf("everything of an unknown group: %+v", res)
	}
}

func TestSimpleCommitRules(t *testing.T) {
	e := newEnv(t)
	// A simple commit creates an Empty group without a protocol type.
	allNil(t, "simple commit", e.commit(simpleCommit("simple", map[string][]int64{"t": {5}})))
	gs, _ := e.c.List(nil, nil)
	if len(gs) != 1 || gs[0].Group != "simple" || gs[0].ProtocolType != "" || gs[0].State != "Empty" {
		t.Fatalf("groups: %+v", gs)
	}
	// A commit with a generation to a group we do not know: an old member.
	c := simpleCommit("unknown", map[string][]int64{"t": {5}})
	c.Generation = 3
	c.MemberID = "m"
	wantErr(t, "generation commit to an unknown group", e.commit(c).Errs[0][0], kerr.IllegalGeneration)
	// A member id with generation -1 to an unknown group: the group is
	// created, and the member is unknown in it.
	c.Generation = -1
	wantErr(t, "member commit to an unknown group", e.commit(c).Errs[0][0], kerr.UnknownMemberID)

	// Per partition: unknown topics, too much metadata; the rest commits.
	big := strings.Repeat("x", 4097)
	ok := strings.Repeat("x", 4096)
	c = CommitRequest{Group: "simple", Generation: -1, RetentionTime: -1, Topics: []CommitTopic{
		{Topic: "t", Partitions: []CommitPartition{{Partition: 0, Offset: 7, Metadata: &big, Timestamp: -1}, {Partition: 1, Offset: 8, Metadata: &ok, Timestamp: -1}, {Partition: 2, Offset: 9, Timestamp: -1}}},
		{Topic: "nope", Partitions: []CommitPartition{{Partition: 0, Offset: 1, Timestamp: -1}, {Partition: 1, Offset: 1, Timestamp: -1}}},
	}}
	res := e.commit(c)
	wantErr(t, "metadata too large", res.Errs[0][0], kerr.OffsetMetadataTooLarge)
	wantErr(t, "metadata at the limit", res.Errs[0][1], nil)
	wantErr(t, "no metadata", res.Errs[0][2], nil)
	wantErr(t, "unknown topic p0", res.Errs[1][0], kerr.UnknownTopicOrPartition)
	wantErr(t, "unknown topic p1", res.Errs[1][1], kerr.UnknownTopicOrPartition)
	e.wantOffsets("simple", map[string]map[int32]int64{"t": {0: 5, 1: 8, 2: 9}})
	f := e.c.Fetch(FetchRequest{Group: "simple", Topics: []FetchTopic{{Topic: "t", Partitions: []int32{1, 2}}}})
	if f.Topics[0].Partitions[0].Metadata != ok || f.Topics[0].Partitions[1].Metadata != "" {
		t.Fatal("metadata did not round-trip")
	}

	// The empty group id is a group for offsets, as in Kafka.
	allNil(t, "commit to the empty group id", e.commit(simpleCommit("", map[string][]int64{"t": {1}})))
	e.wantOffsets("", map[string]map[int32]int64{"t": {0: 1}})
}

func TestCommitIsDurableBeforeAcknowledged(t *testing.T) {
	e := newEnv(t)
	var block atomic.Bool
	release := make(chan struct{})
	var once sync.Once
	e.fs.SetHook(func(op vfs.Op, path string) error {
		if op == vfs.OpSync && block.Load() && strings.Contains(path, "offsets") {
			<-release
		}
		return nil
	})
	defer once.Do(func() { close(release) })
	allNil(t, "first commit", e.commit(simpleCommit("g", map[string][]int64{"t": {1}})))
	block.Store(true)
	ch := e.c.Commit(simpleCommit("g", map[string][]int64{"t": {2}}))
	noAnswer(t, ch, "commit before its fsync")
	// Not visible either (invariant 2).
	e.wantOffsets("g", map[string]map[int32]int64{"t": {0: 1}})
	// What a crash now would keep: the first commit only.
	crashed := e.fs.Crash()
	once.Do(func() { close(release) })
	allNil(t, "second commit", recv(t, ch))
	e.wantOffsets("g", map[string]map[int32]int64{"t": {0: 2}})

	e.fs = crashed
	e.cfg.FS = crashed
	old := e.c
	e.open()
	t.Cleanup(func() { old.Close() })
	e.wantOffsets("g", map[string]map[int32]int64{"t": {0: 1}})
}

func TestAcknowledgedCommitsSurviveCrash(t *testing.T) {
	e := newEnv(t)
	rng := rand.New(rand.NewPCG(1, 2))
	want := map[string]map[string]map[int32]int64{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	// Concurrent committers to overlapping keys; each remembers what was
	// acknowledged, in order per group (one committer per group).
	for gi := range 4 {
		group := fmt.Sprintf("g%d", gi)
		seed := rng.Uint64()
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, 0))
			for i := range 50 {
				offsets := map[string][]int64{"t": make([]int64, 1+r.IntN(8))}
				for p := range offsets["t"] {
					offsets["t"][p] = int64(i*10 + p)
				}
				res := e.commit(simpleCommit(group, offsets))
				allNil(t, "commit", res)
				mu.Lock()
				if want[group] == nil {
					want[group] = map[string]map[int32]int64{"t": {}}
				}
				for p, o := range offsets["t"] {
					want[group]["t"][int32(p)] = o
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	e.crash()
	for group, w := range want {
		e.wantOffsets(group, w)
	}
}

func TestOffsetsSurviveRestart(t *testing.T) {
	e := newEnv(t)
	ids, gen := e.stableGroup("consumers", 2, "t")
	c := CommitRequest{Group: "consumers", MemberID: ids[1], Generation: gen, RetentionTime: -1,
		Topics: []CommitTopic{{Topic: "t", Partitions: []CommitPartition{{Partition: 0, Offset: 11, LeaderEpoch: 2, Timestamp: -1}, {Partition: 1, Offset: 12, LeaderEpoch: -1, Timestamp: -1}}}}}
	allNil(t, "member commit", e.commit(c))
	allNil(t, "simple commit", e.commit(simpleCommit("simple", map[string][]int64{"u": {1, 2, 3}})))
	// Deleted offsets and groups stay deleted.
	allNil(t, "doomed commit", e.commit(simpleCommit("doomed", map[string][]int64{"u": {1}})))
	if errs := recv(t, e.c.DeleteGroups([]string{"doomed"})); errs[0] != nil {
		t.Fatal(errs[0])
	}
	if r := recv(t, e.c.DeleteOffsets("simple", []FetchTopic{{Topic: "u", Partitions: []int32{2}}})); r.Err != nil || r.Errs[0][0] != nil {
		t.Fatalf("delete offsets: %+v", r)
	}

	e.restart()
	e.wantOffsets("consumers", map[string]map[int32]int64{"t": {0: 11, 1: 12}})
	e.wantOffsets("simple", map[string]map[int32]int64{"u": {0: 1, 1: 2}})
	f := e.c.Fetch(FetchRequest{Group: "consumers", Topics: []FetchTopic{{Topic: "t", Partitions: []int32{0, 1}}}})
	if f.Topics[0].Partitions[0].LeaderEpoch != 2 || f.Topics[0].Partitions[1].LeaderEpoch != -1 {
		t.Fatalf("leader epochs after restart: %+v", f.Topics[0].Partitions)
	}
	d := e.c.Describe([]string{"consumers", "doomed"})
	if d[0].State != "Empty" || d[0].ProtocolType != "consumer" || len(d[0].Members) != 0 {
		t.Fatalf("group after restart: %+v", d[0])
	}
	if d[1].State != "Dead" {
		t.Fatalf("deleted group after restart: %+v", d[1])
	}
	// The generation survived: members of the old one are unknown, and the
	// next one follows it.
	c.Topics[0].Partitions[0].Offset = 0
	wantErr(t, "old member's commit after restart", e.commit(c).Errs[0][0], kerr.UnknownMemberID)
	ch, _ := e.joinNew(joinReq("consumers", "", "t"))
	e.clock.Advance(0)
	if r := recv(t, ch); r.Err != nil || r.Generation != gen+1 {
		t.Fatalf("join after restart: %+v (generation before: %d)", r, gen)
	}
}

func TestCompactionOnOpen(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.CompactMinRecords = 200 })
	ids, gen := e.stableGroup("consumers", 1, "t")
	e.c.Leave("consumers", []LeaveMember{{MemberID: ids[0]}})
	for i := range 300 {
		allNil(t, "commit", e.commit(simpleCommit(fmt.Sprintf("g%d", i%3), map[string][]int64{"t": {int64(i), int64(i + 1)}})))
	}
	allNil(t, "commit", e.commit(simpleCommit("gone", map[string][]int64{"t": {1}})))
	recv(t, e.c.DeleteGroups([]string{"gone"}))
	want := map[string]map[string]map[int32]int64{
		"g0": {"t": {0: 297, 1: 298}},
		"g1": {"t": {0: 298, 1: 299}},
		"g2": {"t": {0: 299, 1: 300}},
	}
	e.restart()
	if n := e.c.st.records; n != 7 {
		t.Fatalf("after the rewrite the log holds %d records, want 7", n)
	}
	for g, w := range want {
		e.wantOffsets(g, w)
	}
	// The consumer group's metadata record survived the rewrite as it was.
	if d := e.c.Describe([]string{"consumers"})[0]; d.ProtocolType != "consumer" || d.State != "Empty" {
		t.Fatalf("consumer group after the rewrite: %+v", d)
	}
	ch, _ := e.joinNew(joinReq("consumers", "", "t"))
	e.clock.Advance(0)
	// The leave made generation gen+1 (Empty); the next is gen+2.
	if r := recv(t, ch); r.Err != nil || r.Generation != gen+2 {
		t.Fatalf("join after the rewrite: %+v, generation before %d", r, gen)
	}
	// The rewritten log is the log: more commits, another restart.
	allNil(t, "commit", e.commit(simpleCommit("g0", map[string][]int64{"t": {1000}})))
	e.restart()
	want["g0"]["t"][0] = 1000
	for g, w := range want {
		e.wantOffsets(g, w)
	}
	if e.c.st.records < 8 {
		t.Fatalf("log holds %d records, want 8 or more", e.c.st.records)
	}
}

// TestCompactionCrash crashes at each step of the rewrite's swap: the state
// after the next open must always be the same.
func TestCompactionCrash(t *testing.T) {
	steps := []string{"before the first rename", "between the renames", "after the swap"}
	for step := range steps {
		t.Run(steps[step], func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.CompactMinRecords = 50 })
			for i := range 100 {
				allNil(t, "commit", e.commit(simpleCommit("g", map[string][]int64{"t": {int64(i)}})))
			}
			var renames atomic.Int32
			crashed := make(chan *vfs.MemFS, 1)
			fs0 := e.fs
			fs0.SetHook(func(op vfs.Op, path string) error {
				ldir, odir := filepath.Join(e.cfg.Dir, logDirName), filepath.Join(e.cfg.Dir, oldDirName)
				cdir := filepath.Join(e.cfg.Dir, compactDirName)
				if op != vfs.OpRename && op != vfs.OpRemoveAll || path != ldir && path != odir && path != cdir {
					return nil
				}
				if op == vfs.OpRename {
					n := renames.Add(1)
					if int(n)-1 == step {
						crashed <- fs0.Crash()
						return fmt.Errorf("injected crash")
					}
				} else if step == 2 && path == odir {
					crashed <- fs0.Crash()
					return fmt.Errorf("injected crash")
				}
				return nil
			})
			e.c.Close()
			doomed, err := Open(e.cfg) // its load stops at the injected crash
			if err != nil {
				t.Fatal(err)
			}
			defer doomed.Close()
			var fs *vfs.MemFS
			select {
			case fs = <-crashed:
			case <-time.After(5 * time.Second):
				t.Fatal("the rewrite never reached the crash point")
			}
			e.fs, e.cfg.FS = fs, fs
			e.open()
			e.wantOffsets("g", map[string]map[int32]int64{"t": {0: 99}})
			allNil(t, "commit after recovery", e.commit(simpleCommit("g", map[string][]int64{"t": {100}})))
			e.restart()
			e.wantOffsets("g", map[string]map[int32]int64{"t": {0: 100}})
		})
	}
}

func TestDeleteGroups(t *testing.T) {
	e := newEnv(t)
	e.stableGroup("busy", 1, "t")
	allNil(t, "commit", e.commit(simpleCommit("idle", map[string][]int64{"t": {1, 2}})))
	errs := recv(t, e.c.DeleteGroups([]string{"busy", "idle", "nobody", "idle"}))
	wantErr(t, "delete a group with members", errs[0], kerr.NonEmptyGroup)
	wantErr(t, "delete an empty group", errs[1], nil)
	wantErr(t, "delete an unknown group", errs[2], kerr.GroupIDNotFound)
	wantErr(t, "delete a group deleted just before", errs[3], kerr.GroupIDNotFound)
	if r := e.c.Fetch(FetchRequest{Group: "idle"}); len(r.Topics) != 0 {
		t.Fatalf("offsets of a deleted group: %+v", r)
	}
	// Its id can be used again.
	allNil(t, "commit", e.commit(simpleCommit("idle", map[string][]int64{"t": {9}})))
	e.restart()
	e.wantOffsets("idle", map[string]map[int32]int64{"t": {0: 9}})
}

func TestDeleteOffsets(t *testing.T) {
	e := newEnv(t)
	ids, gen := e.stableGroup("g", 2, "subscribed")
	c := CommitRequest{Group: "g", MemberID: ids[0], Generation: gen, RetentionTime: -1, Topics: []CommitTopic{
		{Topic: "subscribed", Partitions: []CommitPartition{{Partition: 0, Offset: 1, Timestamp: -1}}},
		{Topic: "old", Partitions: []CommitPartition{{Partition: 0, Offset: 2, Timestamp: -1}, {Partition: 1, Offset: 3, Timestamp: -1}}},
	}}
	allNil(t, "commit", e.commit(c))
	r := recv(t, e.c.DeleteOffsets("g", []FetchTopic{{Topic: "subscribed", Partitions: []int32{0}}, {Topic: "old", Partitions: []int32{0, 5}}, {Topic: "nope", Partitions: []int32{0}}}))
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	wantErr(t, "subscribed topic", r.Errs[0][0], kerr.GroupSubscribedToTopic)
	wantErr(t, "unsubscribed topic", r.Errs[1][0], nil)
	wantErr(t, "never committed", r.Errs[1][1], nil)
	wantErr(t, "unknown topic", r.Errs[2][0], kerr.UnknownTopicOrPartition)
	e.wantOffsets("g", map[string]map[int32]int64{"subscribed": {0: 1}, "old": {1: 3}})

	wantErr(t, "unknown group", recv(t, e.c.DeleteOffsets("nobody", nil)).Err, kerr.GroupIDNotFound)
	wantErr(t, "empty group id", recv(t, e.c.DeleteOffsets("", nil)).Err, kerr.InvalidGroupID)

	// A group with members that is not a consumer group refuses.
	other := joinReq("connect", "", "t")
	other.ProtocolType = "connect"
	other.RequireKnownMemberID = false
	ch := e.c.Join(other)
	e.clock.Advance(0)
	recv(t, ch)
	wantErr(t, "non-consumer group with members", recv(t, e.c.DeleteOffsets("connect", []FetchTopic{{Topic: "t", Partitions: []int32{0}}})).Err, kerr.NonEmptyGroup)
}

func TestOffsetExpiration(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.OffsetsRetention = time.Hour })
	allNil(t, "simple commit", e.commit(simpleCommit("simple", map[string][]int64{"t": {1}})))
	e.clock.Advance(30 * time.Minute)
	allNil(t, "simple commit", e.commit(simpleCommit("simple", map[string][]int64{"u": {1}})))
	// A consumer group that empties: its offsets go a retention period
	// after it became Empty, whatever their age.
	ids, gen := e.stableGroup("consumers", 1, "t")
	allNil(t, "member commit", e.commit(CommitRequest{Group: "consumers", MemberID: ids[0], Generation: gen, RetentionTime: -1,
		Topics: []CommitTopic{{Topic: "t", Partitions: []CommitPartition{{Partition: 0, Offset: 4, Timestamp: -1}}}}}))
	for range 40 * 12 {
		e.clock.Advance(5 * time.Second)
		wantErr(t, "heartbeat", e.c.Heartbeat(HeartbeatRequest{Group: "consumers", Generation: gen, MemberID: ids[0]}), nil)
	}
	if err, errs := e.c.Leave("consumers", []LeaveMember{{MemberID: ids[0]}}); err != nil || errs[0] != nil {
		t.Fatalf("leave: %v %v", err, errs)
	}
	// An explicit retention (OffsetCommit v2-v4) wins.
	short := simpleCommit("short", map[string][]int64{"t": {1}})
	short.RetentionTime = time.Minute
	allNil(t, "commit with retention", e.commit(short))

	e.clock.Advance(2 * time.Minute)
	e.c.ExpireOffsets()
	waitFetch := func(group string, want map[string]map[int32]int64) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			r := e.c.Fetch(FetchRequest{Group: group})
			n := 0
			for _, t := range r.Topics {
				n += len(t.Partitions)
			}
			wn := 0
			for _, ps := range want {
				wn += len(ps)
			}
			if n == wn {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("group %s has %d offsets, want %d", group, n, wn)
			}
			time.Sleep(time.Millisecond)
		}
		e.wantOffsets(group, want)
	}
	// At 1h12: the explicit expiry passed, and simple's t is 72 min old.
	waitFetch("short", nil)
	waitFetch("simple", map[string]map[int32]int64{"u": {0: 1}})
	waitFetch("consumers", map[string]map[int32]int64{"t": {0: 4}})

	e.clock.Advance(30 * time.Minute) // 1h42: u is 72 min old; consumers' t too, but Empty for 32 min only
	e.c.ExpireOffsets()
	waitFetch("simple", nil)
	waitFetch("consumers", map[string]map[int32]int64{"t": {0: 4}})
	e.clock.Advance(30 * time.Minute) // consumers Empty for 62 min
	e.c.ExpireOffsets()
	waitFetch("consumers", nil)
	if gs, _ := e.c.List(nil, nil); len(gs) != 0 {
		t.Fatalf("groups left after their offsets expired: %+v", gs)
	}
	// The tombstones are durable: nothing comes back.
	e.restart()
	if gs, _ := e.c.List(nil, nil); len(gs) != 0 {
		t.Fatalf("groups after restart: %+v", gs)
	}
}

func TestDescribeAndList(t *testing.T) {
	e := newEnv(t)
	ids, _ := e.stableGroup("stable", 2, "t")
	allNil(t, "commit", e.commit(simpleCommit("simple", map[string][]int64{"t": {1}})))
	d := e.c.Describe([]string{"stable", "simple", "nobody"})
	if d[0].State != "Stable" || d[0].Protocol != "range" || d[0].ProtocolType != "consumer" || len(d[0].Members) != 2 {
		t.Fatalf("stable group: %+v", d[0])
	}
	for _, m := range d[0].Members {
		if string(m.Assignment) != "for "+m.MemberID || string(m.Metadata) != string(consumerMeta("t")) || m.ClientID != "client" || m.ClientHost != "/127.0.0.1" {
			t.Fatalf("member: %+v", m)
		}
	}
	if d[1].State != "Empty" || d[1].ProtocolType != "" {
		t.Fatalf("simple group: %+v", d[1])
	}
	if d[2].State != "Dead" || d[2].Err != nil {
		t.Fatalf("unknown group: %+v", d[2])
	}
	// Not Stable: no protocol, metadata or assignments.
	e.c.Join(joinReq("stable", ids[0], "t"))
	d = e.c.Describe([]string{"stable"})
	if d[0].State != "PreparingRebalance" || d[0].Protocol != "" || d[0].Members[0].Assignment != nil {
		t.Fatalf("rebalancing group: %+v", d[0])
	}

	gs, err := e.c.List(nil, nil)
	if err != nil || len(gs) != 2 || gs[0].Group != "simple" || gs[1].Group != "stable" || gs[1].ProtocolType != "consumer" || gs[1].Type != "classic" {
		t.Fatalf("list: %+v, %v", gs, err)
	}
	if gs, _ := e.c.List([]string{"empty"}, nil); len(gs) != 1 || gs[0].Group != "simple" {
		t.Fatalf("list Empty: %+v", gs)
	}
	if gs, _ := e.c.List(nil, []string{"consumer"}); len(gs) != 0 {
		t.Fatalf("list consumer-type groups: %+v", gs)
	}
	if gs, _ := e.c.List([]string{"PreparingRebalance"}, []string{"Classic"}); len(gs) != 1 || gs[0].Group != "stable" {
		t.Fatalf("list rebalancing classic groups: %+v", gs)
	}
}

func TestDeleteTopicOffsets(t *testing.T) {
	e := newEnv(t)
	allNil(t, "commit", e.commit(simpleCommit("g", map[string][]int64{"a": {1, 2}, "b": {3}})))
	e.c.DeleteTopicOffsets("a")
	deadline := time.Now().Add(5 * time.Second)
	for len(e.c.Fetch(FetchRequest{Group: "g"}).Topics) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("offsets of the deleted topic are still there")
		}
		time.Sleep(time.Millisecond)
	}
	e.restart()
	e.wantOffsets("g", map[string]map[int32]int64{"b": {0: 3}})
}

func TestLoadInProgress(t *testing.T) {
	fs := vfs.NewMemFS()
	release := make(chan struct{})
	var once sync.Once
	fs.SetHook(func(op vfs.Op, path string) error {
		if op == vfs.OpRead && strings.Contains(path, "offsets") {
			<-release
		}
		return nil
	})
	defer once.Do(func() { close(release) })
	cfg := Config{Dir: "/g", FS: fs, Logger: testLogger(t), Clock: newFakeClock()}
	// A log with something in it, so the load reads.
	{
		c, err := Open(cfg)
		if err != nil {
			t.Fatal(err)
		}
		once.Do(func() { close(release) })
		c.WaitLoaded(t.Context())
		allNil(t, "commit", recv(t, c.Commit(simpleCommit("g", map[string][]int64{"t": {1}}))))
		c.Close()
	}
	release = make(chan struct{})
	once = sync.Once{}
	c, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	wantErr(t, "join while loading", recv(t, c.Join(joinReq("g", "", "t"))).Err, kerr.CoordinatorLoadInProgress)
	wantErr(t, "commit while loading", recv(t, c.Commit(simpleCommit("g", map[string][]int64{"t": {1}}))).Errs[0][0], kerr.CoordinatorLoadInProgress)
	wantErr(t, "fetch while loading", c.Fetch(FetchRequest{Group: "g"}).Err, kerr.CoordinatorLoadInProgress)
	wantErr(t, "heartbeat while loading", c.Heartbeat(HeartbeatRequest{Group: "g", MemberID: "m"}), nil)
	wantErr(t, "sync while loading", recv(t, c.Sync(SyncRequest{Group: "g", MemberID: "m"})).Err, kerr.RebalanceInProgress)
	once.Do(func() { close(release) })
	if err := c.WaitLoaded(t.Context()); err != nil {
		t.Fatal(err)
	}
	if r := c.Fetch(FetchRequest{Group: "g"}); r.Err != nil || len(r.Topics) != 1 {
		t.Fatalf("fetch after the load: %+v", r)
	}
}

// TestCompactionWhileRunning rewrites the log while commits keep coming:
// every acknowledged commit is in the new log, and the log shrinks.
func TestCompactionWhileRunning(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.CompactMinRecords = 500 })
	var mu sync.Mutex
	want := map[string]map[string]map[int32]int64{}
	var appended atomic.Int64
	commit := func(group string, i int) {
		offsets := map[string][]int64{"t": {int64(i), int64(i + 1), int64(i + 2)}}
		allNil(t, "commit", e.commit(simpleCommit(group, offsets)))
		appended.Add(3)
		mu.Lock()
		want[group] = map[string]map[int32]int64{"t": {0: int64(i), 1: int64(i + 1), 2: int64(i + 2)}}
		mu.Unlock()
	}
	for i := range 300 {
		commit(fmt.Sprintf("g%d", i%4), i)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				commit(fmt.Sprintf("w%d", w), i)
			}
		}()
	}
	time.Sleep(20 * time.Millisecond)
	e.c.maybeCompact()
	close(stop)
	wg.Wait()
	e.c.st.mu.Lock()
	n := e.c.st.records
	e.c.st.mu.Unlock()
	if n >= appended.Load()/2 {
		t.Fatalf("the log still holds %d of the %d records appended", n, appended.Load())
	}
	for g, w := range want {
		e.wantOffsets(g, w)
	}
	e.restart()
	for g, w := range want {
		e.wantOffsets(g, w)
	}
	allNil(t, "commit after", e.commit(simpleCommit("g0", map[string][]int64{"t": {7}})))
	e.crash()
	e.wantOffsets("g0", map[string]map[int32]int64{"t": {0: 7, 1: want["g0"]["t"][1], 2: want["g0"]["t"][2]}})
}
