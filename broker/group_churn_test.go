package broker_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestGroupChurn runs five consumers of one group on a 12-partition topic
// while members are closed and added every 1-2 s for 15 s and a producer
// writes: every record is consumed at least once. Duplicates (records
// polled but not committed when their partition moved) are reported.
func TestGroupChurn(t *testing.T) {
	t.Parallel()
	for _, proto := range []string{"consumer", "classic"} {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			addr := start848Broker(t)
			const topic, groupID, partitions = "churn", "churners", 12
			createTopic(t, addr, topic, partitions, nil)
			opts := []kgo.Opt{kgo.Balancers(kgo.CooperativeStickyBalancer()), kgo.AutoCommitInterval(200 * time.Millisecond)}
			if proto == "consumer" {
				opts = append(opts, kgo.ServerSideBalancer())
			}
			var (
				mu      sync.Mutex
				members []*groupConsumer
				all     []*groupConsumer
			)
			add := func() {
				gc := startGroupConsumer(t, addr, groupID, topic, opts...)
				mu.Lock()
				members = append(members, gc)
				all = append(all, gc)
				mu.Unlock()
			}
			for range 5 {
				add()
			}

			prod := newFranz(t, addr, kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
			ctx, cancel := context.WithCancel(context.Background())
			var produced int
			prodDone := make(chan struct{})
			go func() {
				defer close(prodDone)
				for i := 0; ctx.Err() == nil; i++ {
					if err := prod.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: fmt.Appendf(nil, "r%d", i)}).FirstErr(); err != nil {
						if ctx.Err() == nil {
							t.Errorf("produce: %v", err)
						}
						return
					}
					produced = i + 1
					time.Sleep(2 * time.Millisecond)
				}
			}()

			rng := rand.New(rand.NewPCG(1, 2))
			end := time.Now().Add(15 * time.Second)
			closed := 0
			for time.Now().Before(end) {
				time.Sleep(time.Second + time.Duration(rng.IntN(1000))*time.Millisecond)
				mu.Lock()
				i := rng.IntN(len(members))
				victim := members[i]
				members = append(members[:i], members[i+1:]...)
				mu.Unlock()
				victim.close()
				closed++
				add()
			}
			cancel()
			<-prodDone
			t.Logf("%s: produced %d records, closed and replaced %d members", proto, produced, closed)

			groupWaitFor(t, "every record consumed", 20*time.Second, func() (bool, string) {
				mu.Lock()
				u := seenUnion(all...)
				mu.Unlock()
				missing := 0
				for i := range produced {
					if u[fmt.Sprintf("r%d", i)] == 0 {
						missing++
					}
				}
				return missing == 0, fmt.Sprintf("%d of %d missing", missing, produced)
			})
			mu.Lock()
			u := seenUnion(all...)
			mu.Unlock()
			dups := 0
			for _, n := range u {
				dups += n - 1
			}
			t.Logf("%s: %d records consumed more than once (%d extra deliveries of %d records)", proto, countDup(u), dups, produced)
		})
	}
}

func countDup(u map[string]int) int {
	n := 0
	for _, c := range u {
		if c > 1 {
			n++
		}
	}
	return n
}
