package broker_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-stream/chronik/broker"
)

// startGroupBroker starts a broker whose groups rebalance without the
// initial delay, and closes its group coordinator with it.
func startGroupBroker(t testing.TB, mods ...func(*broker.Config)) (*broker.Broker, string) {
	t.Helper()
	mods = append([]func(*broker.Config){func(c *broker.Config) {
		c.BrokerConfigs = map[string]string{
			"group.initial.rebalance.delay.ms": "50",
			"group.min.session.timeout.ms":     "1000",
		}
	}}, mods...)
	b, addr := startBroker(t, mods...)
	t.Cleanup(func() { closeGroupBroker(b) })
	return b, addr
}

// closeGroupBroker closes the coordinator first, so that requests parked in
// it do not hold the connections Close waits for.
func closeGroupBroker(b *broker.Broker) {
	broker.CloseGroups(b)
	b.Close()
}

// produceSpread produces n records round-robin over partitions, values
// "<prefix><i>", and returns them by partition.
func produceSpread(t testing.TB, cl *kgo.Client, topic string, partitions int32, prefix string, n int) map[int32][]string {
	t.Helper()
	var rs []*kgo.Record
	out := map[int32][]string{}
	for i := range n {
		p := int32(i) % partitions
		v := fmt.Sprintf("%s%d", prefix, i)
		rs = append(rs, &kgo.Record{Topic: topic, Partition: p, Value: []byte(v)})
		out[p] = append(out[p], v)
	}
	if err := cl.ProduceSync(testCtx(t), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	return out
}

// groupConsumer is a group member that records what it polls.
type groupConsumer struct {
	cl   *kgo.Client
	mu   sync.Mutex
	seen map[string]int // value -> times seen
	done chan struct{}
}

func startGroupConsumer(t *testing.T, addr, groupID, topic string, opts ...kgo.Opt) *groupConsumer {
	t.Helper()
	base := []kgo.Opt{
		kgo.SeedBrokers(addr),
		kgo.ConsumerGroup(groupID),
		kgo.ConsumeTopics(topic),
		kgo.SessionTimeout(6 * time.Second),
		kgo.RebalanceTimeout(10 * time.Second),
		kgo.HeartbeatInterval(100 * time.Millisecond),
		kgo.FetchMaxWait(200 * time.Millisecond),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	gc := &groupConsumer{cl: cl, seen: map[string]int{}, done: make(chan struct{})}
	go func() {
		defer close(gc.done)
		for {
			fs := cl.PollFetches(context.Background())
			if fs.IsClientClosed() {
				return
			}
			fs.EachError(func(topic string, p int32, err error) { t.Logf("poll %s/%d: %v", topic, p, err) })
			gc.mu.Lock()
			fs.EachRecord(func(r *kgo.Record) { gc.seen[string(r.Value)]++ })
			gc.mu.Unlock()
		}
	}()
	t.Cleanup(gc.close)
	return gc
}

func (gc *groupConsumer) close() {
	gc.cl.Close()
	<-gc.done
}

func (gc *groupConsumer) snapshot() map[string]int {
	gc.mu.Lock()
	defer gc.mu.Unlock()
	return maps.Clone(gc.seen)
}

// groupWaitFor polls cond until it holds or the deadline passes.
func groupWaitFor(t testing.TB, what string, d time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %s", what, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitStable waits until the group is Stable with n members that all have
// an assignment.
func waitStable(t testing.TB, adm *kadm.Client, groupID string, n int) {
	t.Helper()
	groupWaitFor(t, fmt.Sprintf("group %s stable with %d members", groupID, n), 30*time.Second, func() (bool, string) {
		ds, err := adm.DescribeGroups(context.Background(), groupID)
		if err != nil {
			return false, err.Error()
		}
		d := ds[groupID]
		if d.Err != nil {
			return false, d.Err.Error()
		}
		if d.State != "Stable" || len(d.Members) != n {
			return false, fmt.Sprintf("state %s, %d members", d.State, len(d.Members))
		}
		return true, ""
	})
}

// seenUnion merges what consumers saw.
func seenUnion(gcs ...*groupConsumer) map[string]int {
	all := map[string]int{}
	for _, gc := range gcs {
		for v, n := range gc.snapshot() {
			all[v] += n
		}
	}
	return all
}

func TestFranzGroupConsume(t *testing.T) {
	t.Parallel()
	balancers := []struct {
		name string
		bal  kgo.GroupBalancer
	}{
		{"cooperative-sticky", kgo.CooperativeStickyBalancer()},
		{"range", kgo.RangeBalancer()},
		{"roundrobin", kgo.RoundRobinBalancer()},
	}
	for _, bc := range balancers {
		t.Run(bc.name, func(t *testing.T) {
			t.Parallel()
			_, addr := startGroupBroker(t)
			const topic, groupID = "orders", "billing"
			createTopic(t, addr, topic, 3, nil)
			prod := newFranz(t, addr)
			adm := kadm.NewClient(newFranz(t, addr))
			opts := []kgo.Opt{kgo.Balancers(bc.bal), kgo.DisableAutoCommit()}

			// Two members, then 300 records: each consumed exactly once.
			c1 := startGroupConsumer(t, addr, groupID, topic, opts...)
			c2 := startGroupConsumer(t, addr, groupID, topic, opts...)
			waitStable(t, adm, groupID, 2)
			first := produceSpread(t, prod, topic, 3, "a", 300)
			groupWaitFor(t, "300 records consumed", 30*time.Second, func() (bool, string) {
				u := seenUnion(c1, c2)
				return len(u) == 300, fmt.Sprintf("%d distinct", len(u))
			})
			for v, n := range seenUnion(c1, c2) {
				if n != 1 {
					t.Fatalf("record %s consumed %d times", v, n)
				}
			}
			if len(c1.snapshot()) == 0 || len(c2.snapshot()) == 0 {
				t.Fatalf("one member consumed nothing: %d and %d records", len(c1.snapshot()), len(c2.snapshot()))
			}
			for _, c := range []*groupConsumer{c1, c2} {
				if err := c.cl.CommitUncommittedOffsets(testCtx(t)); err != nil {
					t.Fatalf("commit: %v", err)
				}
			}

			// A third member: a rebalance, and no record lost.
			c3 := startGroupConsumer(t, addr, groupID, topic, opts...)
			waitStable(t, adm, groupID, 3)
			second := produceSpread(t, prod, topic, 3, "b", 150)
			groupWaitFor(t, "450 records consumed", 30*time.Second, func() (bool, string) {
				u := seenUnion(c1, c2, c3)
				return len(u) == 450, fmt.Sprintf("%d distinct", len(u))
			})
			u := seenUnion(c1, c2, c3)
			for _, vs := range []map[int32][]string{first, second} {
				for _, p := range vs {
					for _, v := range p {
						if u[v] == 0 {
							t.Fatalf("record %s lost", v)
						}
					}
				}
			}
			// Commit everything before anyone leaves: a leave rebalances, and
			// an eager member commits nothing while its partitions are revoked.
			for _, c := range []*groupConsumer{c1, c2, c3} {
				if err := c.cl.CommitUncommittedOffsets(testCtx(t)); err != nil {
					t.Fatalf("commit: %v", err)
				}
			}
			for _, c := range []*groupConsumer{c1, c2, c3} {
				c.close()
			}

			// Every partition committed at its end.
			offs, err := adm.FetchOffsets(testCtx(t), groupID)
			if err != nil {
				t.Fatal(err)
			}
			for p := int32(0); p < 3; p++ {
				o, ok := offs.Lookup(topic, p)
				want := int64(len(first[p]) + len(second[p]))
				if !ok || o.Err != nil || o.At != want {
					t.Fatalf("partition %d committed %+v (found %v), want %d", p, o, ok, want)
				}
			}

			// A new member resumes from the commits: only new records.
			third := produceSpread(t, prod, topic, 3, "c", 30)
			c4 := startGroupConsumer(t, addr, groupID, topic, opts...)
			groupWaitFor(t, "30 new records", 30*time.Second, func() (bool, string) {
				s := c4.snapshot()
				return len(s) >= 30, fmt.Sprintf("%d records", len(s))
			})
			time.Sleep(200 * time.Millisecond)
			var got []string
			for v := range c4.snapshot() {
				got = append(got, v)
			}
			var want []string
			for _, p := range third {
				want = append(want, p...)
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("resumed consumer got %v, want %v", got, want)
			}
		})
	}
}
