package meta

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chronik-stream/chronik/internal/vfs"
)

var errKilled = errors.New("test: process killed")

// killAfter makes m fail every operation after the first n, as if the
// process died there; the returned func reports whether it did.
func killAfter(m *vfs.MemFS, n int64) (killed func() bool) {
	var calls atomic.Int64
	var dead atomic.Bool
	m.SetHook(func(vfs.Op, string) error {
		if dead.Load() || calls.Add(1) > n {
			dead.Store(true)
			return errKilled
		}
		return nil
	})
	return dead.Load
}

// fingerprint renders what a store holds except the random ids (checked
// separately) and the producer ids.
func fingerprint(s *Store) string {
	var b strings.Builder
	for _, t := range s.Topics() {
		fmt.Fprintf(&b, "%s/%d", t.Name, t.Partitions)
		for _, k := range slices.Sorted(maps.Keys(t.Configs)) {
			fmt.Fprintf(&b, " %s=%s", k, t.Configs[k])
		}
		b.WriteString("\n")
	}
	return b.String()
}

type crashStep struct {
	name string
	// run performs the step, recording in *handed the highest producer id
	// handed out.
	run func(s *Store, handed *int64) error
}

func nextIDs(n int) func(*Store, *int64) error {
	return func(s *Store, handed *int64) error {
		for range n {
			id, err := s.NextProducerID()
			if err != nil {
				return err
			}
			if id <= *handed {
				return fmt.Errorf("producer id %d after %d", id, *handed)
			}
			*handed = id
		}
		return nil
	}
}

var crashSteps = []crashStep{
	{"create a", func(s *Store, _ *int64) error { _, err := s.CreateTopic("a", 1, nil, false); return err }},
	{"first producer id", nextIDs(1)},
	{"create b", func(s *Store, _ *int64) error {
		_, err := s.CreateTopic("b", 3, map[string]string{"cleanup.policy": "compact"}, false)
		return err
	}},
	{"alter a", func(s *Store, _ *int64) error {
		return s.AlterTopicConfigs("a", []ConfigOp{{Name: "retention.ms", Op: ConfigOpSet, Value: "1000"}}, false)
	}},
	{"set b", func(s *Store, _ *int64) error {
		return s.SetTopicConfigs("b", map[string]string{"segment.ms": "5000"}, false)
	}},
	{"partitions b", func(s *Store, _ *int64) error { _, err := s.CreatePartitions("b", 8, false); return err }},
	{"delete a", func(s *Store, _ *int64) error { _, err := s.DeleteTopic("a"); return err }},
	{"recreate a", func(s *Store, _ *int64) error { _, err := s.CreateTopic("a", 2, nil, false); return err }},
	{"2500 producer ids", nextIDs(2500)},
}

// TestCrashAtEveryWrite kills the process at every filesystem call of every
// step, then loses power (with and without torn unsynced writes): reopening
// must give the state before the step or after it, never something else and
// never an error, and a step that returned success must have survived.
// Producer ids never go back.
func TestCrashAtEveryWrite(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	// The states a clean run goes through.
	ref, err := Open(vfs.NewMemFS(), memDir)
	if err != nil {
		t.Fatal(err)
	}
	states := []string{fingerprint(ref)}
	var refHanded int64 = -1
	for _, st := range crashSteps {
		if err := st.run(ref, &refHanded); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		states = append(states, fingerprint(ref))
	}

	for i, st := range crashSteps {
		for budget := int64(0); ; budget++ {
			m := vfs.NewMemFS()
			s, err := Open(m, memDir)
			if err != nil {
				t.Fatal(err)
			}
			var handed int64 = -1
			for _, prev := range crashSteps[:i] {
				if err := prev.run(s, &handed); err != nil {
					t.Fatalf("%s: %v", prev.name, err)
				}
			}
			before := s.Topics()
			killed := killAfter(m, budget)
			stepErr := st.run(s, &handed)
			for _, crashed := range []*vfs.MemFS{m.Crash(), m.CrashWith(rng)} {
				checkCrash(t, st.name, budget, s, crashed, states[i], states[i+1], stepErr, before, handed)
			}
			if !killed() {
				if stepErr != nil {
					t.Fatalf("%s: %v", st.name, stepErr)
				}
				break
			}
		}
	}
}

// checkCrash reopens what a crash left after step ran on s (killed after
// budget calls) and checks it against the states before and after the step.
func checkCrash(t *testing.T, step string, budget int64, s *Store, crashed *vfs.MemFS, oldState, newState string, stepErr error, before []Topic, handed int64) {
	t.Helper()
	r, err := Open(crashed, memDir)
	if err != nil {
		t.Fatalf("%s, crash after %d calls: reopen: %v", step, budget, err)
	}
	got := fingerprint(r)
	switch {
	case stepErr == nil && got != newState:
		t.Fatalf("%s, crash after %d calls: acknowledged step lost:\n got %q\nwant %q", step, budget, got, newState)
	case got != oldState && got != newState:
		t.Fatalf("%s, crash after %d calls: state is neither old nor new:\n got %q\n old %q\n new %q", step, budget, got, oldState, newState)
	}
	if r.ClusterID() != s.ClusterID() {
		t.Fatalf("%s, crash after %d calls: cluster id changed", step, budget)
	}
	if got == oldState {
		for _, old := range before {
			if now, ok := r.Topic(old.Name); !ok || now.ID != old.ID {
				t.Fatalf("%s, crash after %d calls: topic %s lost or changed id", step, budget, old.Name)
			}
		}
	}
	id, err := r.NextProducerID()
	if err != nil || id <= handed {
		t.Fatalf("%s, crash after %d calls: producer id %d (%v) after %d was handed out", step, budget, id, err, handed)
	}
}

// TestCrashDuringFirstOpen: once Open has returned, the cluster id is fixed.
func TestCrashDuringFirstOpen(t *testing.T) {
	for budget := int64(0); ; budget++ {
		m := vfs.NewMemFS()
		killed := killAfter(m, budget)
		s, err := Open(m, memDir)
		r, rerr := Open(m.Crash(), memDir)
		if rerr != nil {
			t.Fatalf("crash after %d calls: reopen: %v", budget, rerr)
		}
		if err == nil && r.ClusterID() != s.ClusterID() {
			t.Fatalf("crash after %d calls: cluster id %q became %q", budget, s.ClusterID(), r.ClusterID())
		}
		if !killed() {
			if err != nil {
				t.Fatal(err)
			}
			return
		}
	}
}
