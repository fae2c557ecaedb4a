package log

import (
	"os"
	"path/filepath"
	"testing"
)

func TestManagerOpenCreateDelete(t *testing.T) {
	dir := t.TempDir()
	known := map[string]bool{"a": true, "b-c": true}
	cfgFor := func(topic string) (Config, bool) { return DefaultConfig(), known[topic] }
	opts := Options{Logger: testLogger(t)}
	m, err := OpenManager(dir, cfgFor, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range []struct {
		topic string
		p     int32
	}{{"a", 0}, {"a", 1}, {"b-c", 0}, {"gone", 3}} {
		p, err := m.Create(tp.topic, tp.p, DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		if p2, _ := m.Create(tp.topic, tp.p, DefaultConfig()); p2 != p {
			t.Fatal("Create is not idempotent")
		}
		appendWait(t, p, makeBatch(batchSpec{records: 3}))
	}
	if got := len(m.Partitions("a")); got != 2 {
		t.Fatalf("partitions of a: %d", got)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	// Leftovers: an unfinished deletion, a metadata dir, a stray file.
	must(t, os.MkdirAll(filepath.Join(dir, "a-7.abcdef-delete"), 0o755))
	must(t, os.MkdirAll(filepath.Join(dir, "__meta"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "x-1"), nil, 0o644))

	m, err = OpenManager(dir, cfgFor, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if p := m.Partition("a", 1); p == nil {
		t.Fatal("a-1 not reopened")
	} else if _, hw, leo := p.Offsets(); hw != 3 || leo != 3 {
		t.Fatalf("a-1 offsets hw %d leo %d", hw, leo)
	}
	if m.Partition("b-c", 0) == nil {
		t.Fatal("b-c-0 not reopened")
	}
	if m.Partition("gone", 3) != nil {
		t.Fatal("unknown topic opened")
	}
	for _, name := range []string{"gone-3", "a-7.abcdef-delete"} {
		if _, err := os.Stat(filepath.Join(dir, name)); !os.IsNotExist(err) {
			t.Fatalf("%s still exists: %v", name, err)
		}
	}
	for _, name := range []string{"__meta", "x-1"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Fatalf("%s was touched: %v", name, err)
		}
	}

	// Delete, then recreate: a fresh, empty log.
	if err := m.DeleteTopic("a"); err != nil {
		t.Fatal(err)
	}
	if m.Partition("a", 0) != nil {
		t.Fatal("a-0 still open")
	}
	names, _ := os.ReadDir(dir)
	for _, n := range names {
		if n.Name() == "a-0" || n.Name() == "a-1" {
			t.Fatalf("%s not deleted", n.Name())
		}
	}
	p, err := m.Create("a", 0, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, hw, leo := p.Offsets(); hw != 0 || leo != 0 {
		t.Fatalf("recreated partition has offsets %d %d", hw, leo)
	}
	res := appendWait(t, p, makeBatch(batchSpec{records: 2}))
	if res.BaseOffset != 0 {
		t.Fatalf("base offset %d", res.BaseOffset)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
