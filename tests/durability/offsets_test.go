package durability

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// commitLedger is what one committer learned about its group's commits, per
// partition: the highest offset an OffsetCommit acknowledged (-1: none) and
// the highest it sent at all. Offsets only grow, so after a crash the
// committed offset must lie between the two.
type commitLedger struct {
	mu        sync.Mutex
	acked     [partitions]int64
	attempted [partitions]int64
	acks      int
}

// commitMetadata ties an offset to its commit, so that OffsetFetch's
// metadata can be checked against its offset.
func commitMetadata(group string, offset int64) string {
	return fmt.Sprintf("%s@%d", group, offset)
}

// TestKill9CommittedOffsets commits offsets from several franz-go clients
// (one group each, every partition of a 3-partition topic per request)
// while the broker is killed with SIGKILL and restarted, and checks after
// every restart that OffsetFetch returns, for every partition, the last
// offset whose commit was acknowledged, or a later one that was sent
// (invariants 1 and 6 for the offsets log).
func TestKill9CommittedOffsets(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 tests run the broker binary; skipped with -short")
	}
	rng := testRand(t, 0)

	bp := newBrokerProc(t)
	bp.start()
	const topic = "commits"
	createTopic(t, bp.addr(), topic, partitions, nil)

	const committers = 4
	groups := make([]string, committers)
	ledgers := make([]*commitLedger, committers)
	for i := range groups {
		groups[i] = fmt.Sprintf("g%d", i)
		l := &commitLedger{}
		for p := range partitions {
			l.acked[p], l.attempted[p] = -1, -1
		}
		ledgers[i] = l
	}
	next := make([]int64, committers) // the next offset committer i commits

	commitOnce := func(cl *kgo.Client, i int) {
		l := ledgers[i]
		off := next[i]
		next[i]++
		req := kmsg.NewPtrOffsetCommitRequest()
		req.Group, req.Generation = groups[i], -1
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = topic
		for p := range int32(partitions) {
			rp := kmsg.NewOffsetCommitRequestTopicPartition()
			rp.Partition, rp.Offset = p, off
			rp.Metadata = kmsg.StringPtr(commitMetadata(groups[i], off))
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
		l.mu.Lock()
		for p := range partitions {
			l.attempted[p] = off
		}
		l.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, st := range resp.Topics {
			for _, sp := range st.Partitions {
				if sp.ErrorCode == 0 {
					l.acked[sp.Partition] = max(l.acked[sp.Partition], off)
					l.acks++
				}
			}
		}
	}

	verify := func(round int) {
		t.Helper()
		cl := newClient(t, bp.addr())
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		for i, g := range groups {
			req := kmsg.NewPtrOffsetFetchRequest()
			req.Group = g
			rt := kmsg.NewOffsetFetchRequestTopic()
			rt.Topic, rt.Partitions = topic, []int32{0, 1, 2}
			req.Topics = append(req.Topics, rt)
			var resp *kmsg.OffsetFetchResponse
			for {
				var err error
				resp, err = req.RequestWith(ctx, cl)
				if err == nil {
					err = kerr.ErrorForCode(resp.ErrorCode)
				}
				if err == nil {
					break
				}
				if ctx.Err() != nil {
					t.Fatalf("round %d: OffsetFetch %s: %v", round, g, err)
				}
				time.Sleep(50 * time.Millisecond) // e.g. COORDINATOR_LOAD_IN_PROGRESS
			}
			l := ledgers[i]
			l.mu.Lock()
			got := map[int32]bool{}
			for _, st := range resp.Topics {
				for _, sp := range st.Partitions {
					got[sp.Partition] = true
					acked, attempted := l.acked[sp.Partition], l.attempted[sp.Partition]
					switch {
					case sp.ErrorCode != 0:
						t.Errorf("round %d: %s %s/%d: %v", round, g, topic, sp.Partition, kerr.ErrorForCode(sp.ErrorCode))
					case sp.Offset < acked:
						t.Errorf("round %d: %s %s/%d: committed offset %d, but the commit of %d was acknowledged", round, g, topic, sp.Partition, sp.Offset, acked)
					case sp.Offset > attempted:
						t.Errorf("round %d: %s %s/%d: committed offset %d, but only up to %d was committed", round, g, topic, sp.Partition, sp.Offset, attempted)
					case sp.Offset >= 0 && (sp.Metadata == nil || *sp.Metadata != commitMetadata(g, sp.Offset)):
						t.Errorf("round %d: %s %s/%d: offset %d with metadata %v", round, g, topic, sp.Partition, sp.Offset, sp.Metadata)
					}
					// What survived is committed: later rounds expect at
					// least it.
					if sp.ErrorCode == 0 && sp.Offset > acked {
						l.acked[sp.Partition] = sp.Offset
					}
				}
			}
			if len(got) != partitions {
				t.Errorf("round %d: %s: OffsetFetch answered partitions %v", round, g, got)
			}
			l.mu.Unlock()
		}
	}

	const rounds = 3
	for round := range rounds {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for i := range committers {
			cl := newClient(t, bp.addr(), kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }))
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer cl.Close()
				for {
					select {
					case <-stop:
						return
					default:
					}
					commitOnce(cl, i)
				}
			}()
		}
		time.Sleep(time.Duration(200+rng.IntN(600)) * time.Millisecond)
		bp.kill()
		close(stop)
		wg.Wait()
		bp.start()
		verify(round)
		if t.Failed() {
			break
		}
	}
	total := 0
	for _, l := range ledgers {
		total += l.acks
	}
	if total == 0 {
		t.Fatal("no commit was acknowledged: the test checked nothing")
	}
	t.Logf("%d acknowledged partition commits over %d kills", total, rounds)
	bp.checkLog()
}
