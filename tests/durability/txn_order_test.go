package durability

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestKill9TransactionsOrdered complements TestKill9Transactions with an
// ordering check: a franz-go transactional producer writes numbered records
// (transaction i, record j, on partition j%2) in transactions, committing
// most and aborting every fourth by choice, while the broker is SIGKILLed
// and restarted a few times; the producer recreates itself after every
// error. Afterwards, per partition, a read_committed consumer must see the
// records of every transaction whose commit returned success exactly once
// and in produce order (transaction, then record number), none of an
// aborted transaction, and each transaction whose outcome was unknown at a
// kill either whole (on both partitions) or not at all.
func TestKill9TransactionsOrdered(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 tests run the broker binary; skipped with -short")
	}
	rng := testRand(t, 0x5eed)

	const (
		topic   = "txn-ordered"
		nparts  = 2
		perTxn  = 4 // records per transaction, two per partition
		kills   = 3
		abortAt = 4 // every abortAt-th transaction is aborted on purpose
	)
	bp := newBrokerProc(t)
	bp.start()
	createTopic(t, bp.addr(), topic, nparts, nil)

	stop := txnProducer(t, bp, "durable-txn-ordered", 10*time.Second, abortAt, func(ctx context.Context, cl *kgo.Client, i int) error {
		// Records one at a time, so a kill can fall between two records
		// of one transaction.
		for j := 0; j < perTxn; j++ {
			r := &kgo.Record{Topic: topic, Partition: int32(j % nparts), Value: []byte(fmt.Sprintf("%d/%d", i, j))}
			if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
				return err
			}
		}
		return nil
	})

	for k := 0; k < kills; k++ {
		time.Sleep(time.Duration(1500+rng.IntN(1500)) * time.Millisecond)
		bp.kill()
		time.Sleep(time.Duration(50+rng.IntN(1000)) * time.Millisecond)
		bp.start()
	}
	time.Sleep(1500 * time.Millisecond)
	outcomes := stop()

	got := consumeCommittedOrdered(t, bp.addr(), topic, nparts)

	// Per partition: strictly increasing (transaction, record), each at most once.
	seen := map[[2]int]int{}
	for p, vals := range got {
		prev := [2]int{-1, -1}
		for _, v := range vals {
			var i, j int
			if _, err := fmt.Sscanf(v, "%d/%d", &i, &j); err != nil {
				t.Errorf("partition %d: unexpected record %q", p, v)
				continue
			}
			if j%nparts != p {
				t.Errorf("record %q on partition %d", v, p)
			}
			cur := [2]int{i, j}
			if cur[0] < prev[0] || (cur[0] == prev[0] && cur[1] <= prev[1]) {
				t.Errorf("partition %d: %q after %d/%d (out of order or duplicated)", p, v, prev[0], prev[1])
			}
			prev = cur
			seen[cur]++
			if i >= len(outcomes) {
				t.Errorf("record %q of transaction %d, only %d were attempted", v, i, len(outcomes))
			}
		}
	}
	var tally txnTally
	for i, out := range outcomes {
		n := 0
		for j := 0; j < perTxn; j++ {
			if c := seen[[2]int{i, j}]; c > 1 {
				t.Errorf("transaction %d record %d seen %d times", i, j, c)
			} else {
				n += c
			}
		}
		tally.check(t, i, out, n, perTxn)
	}
	if tally.committed == 0 || tally.aborted == 0 {
		t.Errorf("%d attempts: %d committed, %d aborted; want some of both", len(outcomes), tally.committed, tally.aborted)
	}
	tally.log(t, len(outcomes), kills)
	bp.checkLog()
}

// consumeCommittedOrdered reads every partition of topic with read_committed
// from the start until each partition's last stable offset equals its high
// watermark and nothing more arrives; it returns the values per partition in
// offset order.
func consumeCommittedOrdered(t *testing.T, addr, topic string, nparts int) map[int][]string {
	t.Helper()
	cl := newClient(t, addr,
		kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200*time.Millisecond))
	adm := kadm.NewClient(newClient(t, addr))
	// stable: every partition's last stable offset (ListOffsets
	// read_committed) equals its high watermark.
	stable := func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hw, err1 := adm.ListEndOffsets(ctx, topic)
		lso, err2 := adm.ListCommittedOffsets(ctx, topic)
		if err1 != nil || err2 != nil {
			return false
		}
		for p := range int32(nparts) {
			h, ok1 := hw.Lookup(topic, p)
			l, ok2 := lso.Lookup(topic, p)
			if !ok1 || !ok2 || h.Err != nil || l.Err != nil || h.Offset != l.Offset {
				return false
			}
		}
		return true
	}
	out := map[int][]string{}
	deadline := time.Now().Add(45 * time.Second)
	quiet := 0
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		fs := cl.PollFetches(ctx)
		cancel()
		n := 0
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			for _, r := range p.Records {
				n++
				out[int(r.Partition)] = append(out[int(r.Partition)], string(r.Value))
			}
		})
		switch {
		case n != 0:
			quiet = 0
		case quiet > 0 || stable():
			// Quiet polls count only once nothing is open: after that,
			// everything up to the high watermark is readable.
			quiet++
			if quiet >= 4 {
				return out
			}
		}
	}
	t.Fatal("read_committed consumer did not catch up within 45 s")
	return nil
}
