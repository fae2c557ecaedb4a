package meta

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/chronik-stream/chronik/internal/vfs"
)

const memDir = "/data/__meta"

// openMem opens a store on a fresh in-memory filesystem.
func openMem(t *testing.T) (*Store, *vfs.MemFS) {
	t.Helper()
	m := vfs.NewMemFS()
	s, err := Open(m, memDir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s, m
}

// afterCrash opens what a power loss would leave of m now: everything a
// Store call has returned from must be there.
func afterCrash(t *testing.T, m *vfs.MemFS) *Store {
	t.Helper()
	s, err := Open(m.Crash(), memDir)
	if err != nil {
		t.Fatalf("reopen after crash: %v", err)
	}
	return s
}

// openTemp opens a store in a fresh directory on the real filesystem.
func openTemp(t *testing.T) (*Store, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "__meta")
	s, err := Open(vfs.OS, dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s, dir
}

func reopen(t *testing.T, fsys vfs.FS, dir string) *Store {
	t.Helper()
	s, err := Open(fsys, dir)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	return s
}

func mustCreate(t *testing.T, s *Store, name string, partitions int32, configs map[string]string) Topic {
	t.Helper()
	tp, err := s.CreateTopic(name, partitions, configs, false)
	if err != nil {
		t.Fatalf("CreateTopic(%q): %v", name, err)
	}
	return tp
}

// wantErr checks that err wraps kind and that its message, which clients
// see, contains want and carries no Go package prefix.
func wantErr(t *testing.T, err, kind error, want string) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("err = %v, want %v", err, kind)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %q, want it to contain %q", err, want)
	}
	if strings.HasPrefix(err.Error(), "meta:") {
		t.Fatalf("client message %q has a package prefix", err)
	}
}

func TestCreateDeleteRecreate(t *testing.T) {
	s, m := openMem(t)
	a := mustCreate(t, s, "orders", 3, map[string]string{"retention.ms": "1000"})
	if a.ID == ([16]byte{}) || a.ID[6]>>4 != 4 || a.ID[8]>>6 != 2 {
		t.Fatalf("id %x is not a version 4 UUID", a.ID)
	}
	if a.Partitions != 3 || a.Configs["retention.ms"] != "1000" {
		t.Fatalf("topic = %+v", a)
	}
	if got, ok := s.Topic("orders"); !ok || got.ID != a.ID {
		t.Fatalf("Topic = %+v, %v", got, ok)
	}
	if got, ok := s.TopicByID(a.ID); !ok || got.Name != "orders" {
		t.Fatalf("TopicByID = %+v, %v", got, ok)
	}
	_, err := s.CreateTopic("orders", 1, nil, false)
	wantErr(t, err, ErrTopicExists, "Topic 'orders' already exists.")

	d, err := s.DeleteTopic("orders")
	if err != nil || d.ID != a.ID {
		t.Fatalf("DeleteTopic = %+v, %v", d, err)
	}
	if _, ok := s.Topic("orders"); ok {
		t.Fatal("deleted topic still there")
	}
	if _, ok := s.TopicByID(a.ID); ok {
		t.Fatal("deleted topic still found by id")
	}
	_, err = s.DeleteTopic("orders")
	wantErr(t, err, ErrUnknownTopic, "orders")

	b := mustCreate(t, s, "orders", 1, nil)
	if b.ID == a.ID {
		t.Fatal("recreated topic reused the old id")
	}
	if len(b.Configs) != 0 {
		t.Fatalf("recreated topic kept configs %v", b.Configs)
	}
	if got, ok := afterCrash(t, m).Topic("orders"); !ok || got.ID != b.ID {
		t.Fatalf("after crash: %+v, %v", got, ok)
	}
}

func TestCopiesAreIndependent(t *testing.T) {
	s, _ := openMem(t)
	mustCreate(t, s, "t", 1, map[string]string{"retention.ms": "1000"})
	got, _ := s.Topic("t")
	got.Configs["retention.ms"] = "5"
	got.Configs["segment.ms"] = "5"
	for _, tp := range s.Topics() {
		tp.Configs["x"] = "y"
	}
	again, _ := s.Topic("t")
	if len(again.Configs) != 1 || again.Configs["retention.ms"] != "1000" {
		t.Fatalf("store changed through a copy: %v", again.Configs)
	}
}

func TestTopicNames(t *testing.T) {
	long := strings.Repeat("a", 249)
	for _, tc := range []struct {
		name string
		want string // "" for valid
	}{
		{"a", ""},
		{"my-topic_1.v2", ""},
		{"__consumer_offsets", ""},
		{"...", ""},
		{"-leading-dash", ""},
		{long, ""},
		{long + "a", "can't be longer than 249 characters"},
		{"", "can't be empty"},
		{".", `cannot be "." or ".."`},
		{"..", `cannot be "." or ".."`},
		{"a b", "contains a character other than ASCII alphanumerics"},
		{"a/b", "contains a character other than"},
		{"a\x00", "contains a character other than"},
		{"topic€", "contains a character other than"},
		{"a:b", "contains a character other than"},
	} {
		err := ValidateTopicName(tc.name)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%q: %v", tc.name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%q: accepted", tc.name)
			continue
		}
		wantErr(t, err, ErrInvalidTopic, tc.want)
	}

	s, _ := openMem(t)
	_, err := s.CreateTopic("a b", 1, nil, false)
	wantErr(t, err, ErrInvalidTopic, "illegal")
}

func TestTopicNameCollision(t *testing.T) {
	s, _ := openMem(t)
	mustCreate(t, s, "a.b", 1, nil)
	_, err := s.CreateTopic("a_b", 1, nil, false)
	wantErr(t, err, ErrInvalidTopic, "Topic 'a_b' collides with existing topic: a.b")
	_, err = s.CreateTopic("a_b", 1, nil, true)
	wantErr(t, err, ErrInvalidTopic, "collides")
	mustCreate(t, s, "x_y.z", 1, nil)
	_, err = s.CreateTopic("x.y_z", 1, nil, false)
	wantErr(t, err, ErrInvalidTopic, "collides with existing topic: x_y.z")
	if _, err := s.DeleteTopic("a.b"); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, "a_b", 1, nil)
}

func TestCreateTopicChecks(t *testing.T) {
	s, m := openMem(t)
	for _, p := range []int32{0, -1, -5} {
		_, err := s.CreateTopic("t", p, nil, false)
		wantErr(t, err, ErrInvalidPartitions, "Number of partitions was set to an invalid non-positive value.")
	}
	_, err := s.CreateTopic("t", 1, map[string]string{"retention.ms": "soon"}, false)
	wantErr(t, err, ErrInvalidConfig, "Invalid value soon for configuration retention.ms: Not a number of type LONG")
	_, err = s.CreateTopic("t", 1, map[string]string{"no.such.config": "1"}, false)
	wantErr(t, err, ErrInvalidConfig, "Unknown topic config name: no.such.config")

	// validateOnly checks everything and stores nothing.
	v, err := s.CreateTopic("t", 4, map[string]string{"cleanup.policy": "compact"}, true)
	if err != nil || v.Name != "t" || v.Partitions != 4 || v.ID == ([16]byte{}) {
		t.Fatalf("validateOnly = %+v, %v", v, err)
	}
	if _, ok := s.Topic("t"); ok {
		t.Fatal("validateOnly stored the topic")
	}
	if _, ok := afterCrash(t, m).Topic("t"); ok {
		t.Fatal("validateOnly persisted the topic")
	}
	mustCreate(t, s, "u", 1, nil)
	_, err = s.CreateTopic("u", 1, nil, true)
	wantErr(t, err, ErrTopicExists, "already exists")
}

func TestCreatePartitions(t *testing.T) {
	s, m := openMem(t)
	mustCreate(t, s, "t", 2, nil)
	_, err := s.CreatePartitions("t", 1, false)
	wantErr(t, err, ErrInvalidPartitions, "The topic t currently has 2 partition(s); 1 would not be an increase.")
	_, err = s.CreatePartitions("t", 2, false)
	wantErr(t, err, ErrInvalidPartitions, "Topic already has 2 partition(s).")
	_, err = s.CreatePartitions("nope", 5, false)
	wantErr(t, err, ErrUnknownTopic, "nope")

	if tp, err := s.CreatePartitions("t", 5, true); err != nil || tp.Partitions != 5 {
		t.Fatalf("validateOnly = %+v, %v", tp, err)
	}
	if tp, _ := s.Topic("t"); tp.Partitions != 2 {
		t.Fatalf("validateOnly changed partitions to %d", tp.Partitions)
	}
	if tp, err := s.CreatePartitions("t", 5, false); err != nil || tp.Partitions != 5 {
		t.Fatalf("CreatePartitions = %+v, %v", tp, err)
	}
	if tp, _ := afterCrash(t, m).Topic("t"); tp.Partitions != 5 {
		t.Fatalf("after reopen: %d partitions", tp.Partitions)
	}
}

func TestSetTopicConfigs(t *testing.T) {
	s, m := openMem(t)
	mustCreate(t, s, "t", 1, map[string]string{"retention.ms": "1000", "segment.ms": "2000"})

	err := s.SetTopicConfigs("t", map[string]string{"max.message.bytes": "-1"}, false)
	wantErr(t, err, ErrInvalidConfig, "Invalid value -1 for configuration max.message.bytes: Value must be at least 0")
	wantErr(t, s.SetTopicConfigs("nope", nil, false), ErrUnknownTopic, "nope")

	if err := s.SetTopicConfigs("t", map[string]string{"cleanup.policy": "compact"}, true); err != nil {
		t.Fatal(err)
	}
	if tp, _ := s.Topic("t"); len(tp.Configs) != 2 {
		t.Fatalf("validateOnly changed configs: %v", tp.Configs)
	}
	if err := s.SetTopicConfigs("t", map[string]string{"cleanup.policy": "compact"}, false); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"cleanup.policy": "compact"}
	if tp, _ := afterCrash(t, m).Topic("t"); !mapsEqual(tp.Configs, want) {
		t.Fatalf("after reopen: %v, want %v", tp.Configs, want)
	}
	if err := s.SetTopicConfigs("t", nil, false); err != nil {
		t.Fatal(err)
	}
	if tp, _ := afterCrash(t, m).Topic("t"); len(tp.Configs) != 0 {
		t.Fatalf("configs not cleared: %v", tp.Configs)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestAlterTopicConfigs(t *testing.T) {
	s, m := openMem(t)
	mustCreate(t, s, "t", 1, map[string]string{"retention.ms": "1000"})
	get := func() map[string]string { tp, _ := s.Topic("t"); return tp.Configs }

	steps := []struct {
		ops  []ConfigOp
		want map[string]string
		err  string
	}{
		{[]ConfigOp{{Name: "segment.ms", Op: ConfigOpSet, Value: "60000"}},
			map[string]string{"retention.ms": "1000", "segment.ms": "60000"}, ""},
		{[]ConfigOp{{Name: "retention.ms", Op: ConfigOpDelete}},
			map[string]string{"segment.ms": "60000"}, ""},
		// APPEND starts from Kafka's default when there is no override.
		{[]ConfigOp{{Name: "cleanup.policy", Op: ConfigOpAppend, Value: "compact"}},
			map[string]string{"segment.ms": "60000", "cleanup.policy": "delete,compact"}, ""},
		{[]ConfigOp{{Name: "cleanup.policy", Op: ConfigOpAppend, Value: "compact"}},
			map[string]string{"segment.ms": "60000", "cleanup.policy": "delete,compact"}, ""},
		{[]ConfigOp{{Name: "cleanup.policy", Op: ConfigOpSubtract, Value: "delete"}},
			map[string]string{"segment.ms": "60000", "cleanup.policy": "compact"}, ""},
		{[]ConfigOp{{Name: "cleanup.policy", Op: ConfigOpSubtract, Value: "compact"}},
			map[string]string{"segment.ms": "60000", "cleanup.policy": ""}, ""},
		{[]ConfigOp{{Name: "leader.replication.throttled.replicas", Op: ConfigOpAppend, Value: "0:1,1:1"}},
			map[string]string{"segment.ms": "60000", "cleanup.policy": "", "leader.replication.throttled.replicas": "0:1,1:1"}, ""},
		// Failures change nothing.
		{[]ConfigOp{{Name: "retention.ms", Op: ConfigOpAppend, Value: "1"}}, nil,
			"Can't APPEND to key retention.ms because its type is not LIST."},
		{[]ConfigOp{{Name: "cleanup.policy", Op: ConfigOpAppend, Value: "shred"}}, nil,
			"Invalid value shred for configuration cleanup.policy: String must be one of: compact, delete"},
		{[]ConfigOp{{Name: "segment.ms", Op: ConfigOpDelete}, {Name: "bogus", Op: ConfigOpSet, Value: "1"}}, nil,
			"Unknown topic config name: bogus"},
		{[]ConfigOp{{Name: "segment.ms", Op: 9}}, nil, "Unknown config operation 9"},
		{[]ConfigOp{{Name: "min.compaction.lag.ms", Op: ConfigOpSet, Value: "100"}, {Name: "max.compaction.lag.ms", Op: ConfigOpSet, Value: "10"}}, nil,
			"conflict topic config setting min.compaction.lag.ms (100) > max.compaction.lag.ms (10)"},
	}
	prev := get()
	for i, st := range steps {
		err := s.AlterTopicConfigs("t", st.ops, false)
		if st.err != "" {
			wantErr(t, err, ErrInvalidConfig, st.err)
			if got := get(); !mapsEqual(got, prev) {
				t.Fatalf("step %d: failed ops changed configs to %v", i, got)
			}
			continue
		}
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got := get(); !mapsEqual(got, st.want) {
			t.Fatalf("step %d: configs %v, want %v", i, got, st.want)
		}
		prev = st.want
	}
	if err := s.AlterTopicConfigs("t", []ConfigOp{{Name: "segment.ms", Op: ConfigOpDelete}}, true); err != nil {
		t.Fatal(err)
	}
	if got := get(); !mapsEqual(got, prev) {
		t.Fatalf("validateOnly changed configs to %v", got)
	}
	wantErr(t, s.AlterTopicConfigs("nope", nil, false), ErrUnknownTopic, "nope")
	if tp, _ := afterCrash(t, m).Topic("t"); !mapsEqual(tp.Configs, prev) {
		t.Fatalf("after reopen: %v, want %v", tp.Configs, prev)
	}
}

func TestPersistenceRoundTrip(t *testing.T) {
	s, dir := openTemp(t)
	cid := s.ClusterID()
	if len(cid) != 22 || strings.HasPrefix(cid, "-") {
		t.Fatalf("cluster id %q", cid)
	}
	if _, err := DecodeUUID(cid); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		cfg := map[string]string{}
		if i%3 == 0 {
			cfg["retention.ms"] = fmt.Sprint(1000 * i)
			cfg["cleanup.policy"] = "compact,delete"
		}
		mustCreate(t, s, fmt.Sprintf("topic-%02d", i), int32(i+1), cfg)
	}
	if _, err := s.DeleteTopic("topic-05"); err != nil {
		t.Fatal(err)
	}
	want := s.Topics()

	r := reopen(t, vfs.OS, dir)
	if r.ClusterID() != cid {
		t.Fatalf("cluster id changed: %q -> %q", cid, r.ClusterID())
	}
	got := r.Topics()
	if len(got) != len(want) {
		t.Fatalf("%d topics, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Name != w.Name || g.ID != w.ID || g.Partitions != w.Partitions || !mapsEqual(g.Configs, w.Configs) {
			t.Fatalf("topic %d: %+v, want %+v", i, g, w)
		}
		if byID, ok := r.TopicByID(g.ID); !ok || byID.Name != g.Name {
			t.Fatalf("TopicByID(%s) after reopen", g.Name)
		}
	}
	if !slices.IsSortedFunc(got, func(a, b Topic) int { return strings.Compare(a.Name, b.Name) }) {
		t.Fatal("Topics not sorted")
	}
	// No temporary file is left behind.
	if _, err := os.Stat(filepath.Join(dir, tmpName)); !os.IsNotExist(err) {
		t.Fatalf("temporary file left: %v", err)
	}
}

func TestStaleTempFileIgnored(t *testing.T) {
	s, dir := openTemp(t)
	mustCreate(t, s, "t", 1, nil)
	if err := os.WriteFile(filepath.Join(dir, tmpName), []byte("half a wri"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := reopen(t, vfs.OS, dir)
	if _, ok := r.Topic("t"); !ok {
		t.Fatal("topic lost")
	}
	if _, err := os.Stat(filepath.Join(dir, tmpName)); !os.IsNotExist(err) {
		t.Fatalf("stale temporary file not removed: %v", err)
	}
}

func TestProducerIDs(t *testing.T) {
	s, m := openMem(t)
	last := int64(-1)
	next := func(s *Store) int64 {
		t.Helper()
		id, err := s.NextProducerID()
		if err != nil {
			t.Fatal(err)
		}
		if id <= last {
			t.Fatalf("producer id %d after %d", id, last)
		}
		last = id
		return id
	}
	if id := next(s); id != 0 {
		t.Fatalf("first producer id %d, want 0", id)
	}
	for range 2500 {
		next(s)
	}
	// A power loss (nothing was closed) never goes back.
	for range 3 {
		m = m.Crash()
		s, err := Open(m, memDir)
		if err != nil {
			t.Fatal(err)
		}
		next(s)
		next(s)
	}
	// Nor does a restart on a real filesystem; topic changes keep the mark.
	s, dir := openTemp(t)
	last = -1
	next(s)
	for range 1500 {
		next(s)
	}
	mustCreate(t, s, "t", 1, nil)
	for range 2 {
		s = reopen(t, vfs.OS, dir)
		next(s)
	}
}

func TestProducerIDsExhausted(t *testing.T) {
	s, _ := openMem(t)
	s.mu.Lock()
	s.nextPID = 1<<63 - 1 - producerIDBlockSize + 1
	s.img.pidBlockEnd = s.nextPID
	s.mu.Unlock()
	if _, err := s.NextProducerID(); !errors.Is(err, ErrProducerIDsExhausted) {
		t.Fatalf("err = %v", err)
	}
}

func TestConcurrentUse(t *testing.T) {
	s, m := openMem(t)
	var wg sync.WaitGroup
	ids := make(chan int64, 8*300)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				id, err := s.NextProducerID()
				if err != nil {
					t.Error(err)
					return
				}
				ids <- id
				name := fmt.Sprintf("w%d-%d", w, i%5)
				switch i % 5 {
				case 0:
					s.CreateTopic(name, 1, nil, false)
				case 1:
					s.AlterTopicConfigs(name, []ConfigOp{{Name: "retention.ms", Op: ConfigOpSet, Value: fmt.Sprint(i)}}, false)
				case 2:
					s.CreatePartitions(name, int32(i), false)
				case 3:
					s.DeleteTopic(name)
				}
				for _, tp := range s.Topics() {
					if got, ok := s.TopicByID(tp.ID); ok && got.Name != tp.Name {
						t.Errorf("id of %s maps to %s", tp.Name, got.Name)
					}
					EffectiveLogConfig(tp, nil)
				}
				s.ClusterID()
			}
		}()
	}
	wg.Wait()
	close(ids)
	seen := map[int64]bool{}
	for id := range ids {
		if seen[id] {
			t.Fatalf("producer id %d handed out twice", id)
		}
		seen[id] = true
	}
	// What is on disk is what is in memory.
	r := afterCrash(t, m)
	a, b := s.Topics(), r.Topics()
	if len(a) != len(b) {
		t.Fatalf("%d topics in memory, %d on disk", len(a), len(b))
	}
	for i := range a {
		if a[i].Name != b[i].Name || a[i].ID != b[i].ID || a[i].Partitions != b[i].Partitions || !mapsEqual(a[i].Configs, b[i].Configs) {
			t.Fatalf("memory %+v, disk %+v", a[i], b[i])
		}
	}
}

func TestReplicationFactor(t *testing.T) {
	for _, rf := range []int16{-1, 1} {
		if err := ValidateReplicationFactor(rf, 1); err != nil {
			t.Errorf("rf %d: %v", rf, err)
		}
	}
	wantErr(t, ValidateReplicationFactor(0, 1), ErrInvalidReplicationFactor, "Replication factor must be larger than 0, or -1 to use the default value.")
	wantErr(t, ValidateReplicationFactor(-2, 1), ErrInvalidReplicationFactor, "larger than 0")
	wantErr(t, ValidateReplicationFactor(3, 1), ErrInvalidReplicationFactor, "The target replication factor of 3 cannot be reached because only 1 broker(s) are registered.")
}

func TestUUIDs(t *testing.T) {
	seen := map[[16]byte]bool{}
	for range 10000 {
		u := newUUID()
		if u == zeroUUID || u == metadataTopicID || seen[u] {
			t.Fatalf("bad uuid %x", u)
		}
		seen[u] = true
		s := EncodeUUID(u)
		if len(s) != 22 || s[0] == '-' {
			t.Fatalf("uuid string %q", s)
		}
		back, err := DecodeUUID(s)
		if err != nil || back != u {
			t.Fatalf("DecodeUUID(%q) = %x, %v", s, back, err)
		}
	}
	for _, bad := range []string{"", "short", strings.Repeat("A", 23), strings.Repeat("!", 22), "AAAAAAAAAAAAAAAAAAAAAB"} {
		if _, err := DecodeUUID(bad); err == nil {
			t.Errorf("DecodeUUID(%q) accepted", bad)
		}
	}
}
