package broker_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kadm"
)

// saramaGroupHandler records what it consumes and marks it consumed.
type saramaGroupHandler struct {
	mu   sync.Mutex
	seen map[string]int
}

func (*saramaGroupHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (*saramaGroupHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h *saramaGroupHandler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for msg := range claim.Messages() {
		h.mu.Lock()
		h.seen[string(msg.Value)]++
		h.mu.Unlock()
		sess.MarkMessage(msg, "")
	}
	return nil
}

func (h *saramaGroupHandler) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.seen)
}

// runSaramaGroup consumes topic in group until stop is called, which
// leaves the group (committing).
func runSaramaGroup(t *testing.T, addr, group, topic string, strategy sarama.BalanceStrategy) (*saramaGroupHandler, func()) {
	t.Helper()
	cfg := saramaConfig(false, sarama.WaitForAll)
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Interval = 100 * time.Millisecond
	cfg.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{strategy}
	cfg.Consumer.Group.Session.Timeout = 6 * time.Second
	cfg.Consumer.Group.Heartbeat.Interval = 200 * time.Millisecond
	cfg.Consumer.MaxWaitTime = 100 * time.Millisecond
	cg, err := sarama.NewConsumerGroup([]string{addr}, group, cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := &saramaGroupHandler{seen: map[string]int{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if err := cg.Consume(ctx, []string{topic}, h); err != nil && ctx.Err() == nil {
				t.Logf("sarama consume: %v", err)
				time.Sleep(50 * time.Millisecond)
			}
		}
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			<-done
			if err := cg.Close(); err != nil {
				t.Errorf("closing the sarama group: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return h, stop
}

func TestSaramaConsumerGroup(t *testing.T) {
	t.Parallel()
	_, addr := startGroupBroker(t)
	const topic = "sarama-group"
	createTopic(t, addr, topic, 3, nil)
	prod := newFranz(t, addr)
	produceSpread(t, prod, topic, 3, "a", 60)

	h, stop := runSaramaGroup(t, addr, "sg", topic, sarama.NewBalanceStrategyRange())
	groupWaitFor(t, "60 records", 30*time.Second, func() (bool, string) {
		return h.count() == 60, fmt.Sprint(h.count())
	})
	stop()
	for v, n := range h.seen {
		if n != 1 {
			t.Fatalf("record %s consumed %d times", v, n)
		}
	}
	adm := kadm.NewClient(newFranz(t, addr))
	got, err := adm.FetchOffsets(testCtx(t), "sg")
	if err != nil {
		t.Fatal(err)
	}
	for p := int32(0); p < 3; p++ {
		if o, ok := got.Lookup(topic, p); !ok || o.At != 20 {
			t.Fatalf("partition %d committed %+v", p, o)
		}
	}

	// Resume: only the new records.
	produceSpread(t, prod, topic, 3, "b", 15)
	h2, _ := runSaramaGroup(t, addr, "sg", topic, sarama.NewBalanceStrategyRoundRobin())
	groupWaitFor(t, "15 new records", 30*time.Second, func() (bool, string) {
		return h2.count() >= 15, fmt.Sprint(h2.count())
	})
	time.Sleep(200 * time.Millisecond)
	h2.mu.Lock()
	defer h2.mu.Unlock()
	if len(h2.seen) != 15 {
		t.Fatalf("resumed sarama group consumed %d records, want 15", len(h2.seen))
	}
	for v := range h2.seen {
		if v[0] != 'b' {
			t.Fatalf("resumed sarama group re-read %s", v)
		}
	}
}
