package broker_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestTxnFencing: two producers with one transactional id. When the second
// initializes, the first's open transaction is aborted and the first is
// fenced: what it wrote before and tries to write after never becomes
// visible to read_committed; the second's committed records are.
func TestTxnFencing(t *testing.T) {
	_, addr := startBroker(t)
	createTopic(t, addr, "fenced", 2, nil)
	ctx := testCtx(t)
	opts := []kgo.Opt{kgo.TransactionalID("shared"), kgo.DefaultProduceTopic("fenced"), kgo.RetryTimeout(3 * time.Second)}

	a := newFranz(t, addr, opts...)
	must(t, a.BeginTransaction())
	must(t, a.ProduceSync(ctx, &kgo.Record{Value: []byte("a-before")}).FirstErr())

	b := newFranz(t, addr, opts...)
	must(t, b.BeginTransaction()) // InitProducerId: aborts a's transaction, fences a
	must(t, b.ProduceSync(ctx, &kgo.Record{Value: []byte("b-1")}).FirstErr())

	errA := a.ProduceSync(ctx, &kgo.Record{Value: []byte("a-after")}).FirstErr()
	if errA == nil {
		errA = a.EndTransaction(ctx, kgo.TryCommit)
	}
	if !errors.Is(errA, kerr.ProducerFenced) && !errors.Is(errA, kerr.InvalidProducerEpoch) && !errors.Is(errA, kerr.InvalidTxnState) {
		t.Fatalf("the fenced producer's produce/commit: %v, want a fencing error", errA)
	}
	must(t, b.EndTransaction(ctx, kgo.TryCommit))

	// read_committed sees b's record only; read_uncommitted also a's first.
	read := func(level kgo.IsolationLevel) map[string]bool {
		cl := newFranz(t, addr, kgo.ConsumeTopics("fenced"), kgo.FetchIsolationLevel(level),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
		seen := map[string]bool{}
		for i := 0; i < 10; i++ {
			pctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			cl.PollFetches(pctx).EachRecord(func(r *kgo.Record) { seen[string(r.Value)] = true })
			cancel()
		}
		return seen
	}
	if got := read(kgo.ReadCommitted()); len(got) != 1 || !got["b-1"] {
		t.Fatalf("read_committed saw %v, want only b-1", got)
	}
	if got := read(kgo.ReadUncommitted()); !got["a-before"] || !got["b-1"] || got["a-after"] {
		t.Fatalf("read_uncommitted saw %v, want a-before and b-1 (a-after refused)", got)
	}
}
