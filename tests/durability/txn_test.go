package durability

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// txnOutcome is what the producer learned about one transaction.
type txnOutcome int

const (
	txnCommitted txnOutcome = iota // EndTransaction(commit) succeeded
	txnAborted                     // EndTransaction(abort) succeeded
	txnUnknown                     // an error somewhere: all or nothing
)

const txnRecords = 6 // records per transaction, two per partition

// TestKill9Transactions runs transactions (some committed, some aborted on
// purpose) from a franz-go transactional producer while the broker is
// killed with SIGKILL and restarted a few times; the producer recreates
// itself after every error. Afterwards a read_committed consumer must see
// every record of every transaction whose commit succeeded, once, in
// order; none of a transaction whose abort succeeded; and all or none of
// the records of each transaction whose outcome was unknown at the kill.
func TestKill9Transactions(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 tests run the broker binary; skipped with -short")
	}
	rng := testRand(t, 0x7a)

	bp := newBrokerProc(t)
	bp.start()
	const topic = "txns"
	createTopic(t, bp.addr(), topic, partitions, nil)

	stop := txnProducer(t, bp, "durable-txn", 20*time.Second, 3, func(ctx context.Context, cl *kgo.Client, i int) error {
		recs := make([]*kgo.Record, txnRecords)
		for j := range recs {
			recs[j] = &kgo.Record{Topic: topic, Partition: int32(j % partitions), Value: []byte(fmt.Sprintf("t%d-%d", i, j))}
		}
		return cl.ProduceSync(ctx, recs...).FirstErr()
	})

	const kills = 3
	for k := 0; k < kills; k++ {
		time.Sleep(time.Duration(1500+rng.IntN(2000)) * time.Millisecond)
		bp.kill()
		time.Sleep(time.Duration(50+rng.IntN(2000)) * time.Millisecond)
		bp.start()
	}
	time.Sleep(1500 * time.Millisecond)
	outcomes := stop()

	// After the broker's restarts a transaction left open by a killed
	// client is aborted by the new producer's InitProducerId or by its
	// timeout; read what is committed once nothing is open.
	got := consumeCommitted(t, bp.addr(), topic)
	var tally txnTally
	for i, out := range outcomes {
		n := 0
		for j := 0; j < txnRecords; j++ {
			n += got[fmt.Sprintf("t%d-%d", i, j)]
		}
		for j := 0; j < txnRecords; j++ {
			if c := got[fmt.Sprintf("t%d-%d", i, j)]; c > 1 {
				t.Errorf("transaction %d record %d seen %d times", i, j, c)
			}
		}
		tally.check(t, i, out, n, txnRecords)
	}
	if tally.committed == 0 {
		t.Errorf("no transaction committed in %d attempts", len(outcomes))
	}
	tally.log(t, len(outcomes), kills)
	bp.checkLog()
}

// consumeCommitted reads the topic with read_committed until every
// partition's last stable offset equals its high watermark and the
// consumer has caught up, and counts each value seen.
func consumeCommitted(t *testing.T, addr, topic string) map[string]int {
	t.Helper()
	cl := newClient(t, addr,
		kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200*time.Millisecond))
	seen := map[string]int{}
	lastOff := map[int32]int64{}
	deadline := time.Now().Add(60 * time.Second)
	quiet := 0
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		fs := cl.PollFetches(ctx)
		cancel()
		n := 0
		stable := true
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			if p.LastStableOffset != p.HighWatermark {
				stable = false
			}
			for _, r := range p.Records {
				n++
				if prev, ok := lastOff[r.Partition]; ok && r.Offset <= prev {
					t.Errorf("partition %d: offset %d after %d", r.Partition, r.Offset, prev)
				}
				lastOff[r.Partition] = r.Offset
				v := string(r.Value)
				if !strings.HasPrefix(v, "t") {
					t.Errorf("unexpected record %q", v)
				}
				seen[v]++
			}
		})
		if n == 0 && stable {
			quiet++
			if quiet >= 4 {
				return seen
			}
		} else {
			quiet = 0
		}
	}
	t.Fatal("read_committed consumer did not catch up within 60 s")
	return nil
}

// txnProducer runs transactions from a franz-go transactional producer
// (id txnID) against bp until stopped: transaction i is committed unless
// i%abortEvery == abortEvery-1, and produce sends its records. An error
// anywhere makes the outcome unknown and the producer is recreated (its
// InitProducerId fences and aborts what was left open). stop ends it and
// returns the outcomes, by transaction number.
func txnProducer(t *testing.T, bp *brokerProc, txnID string, txnTimeout time.Duration, abortEvery int,
	produce func(ctx context.Context, cl *kgo.Client, i int) error) (stop func() []txnOutcome) {
	var outcomes []txnOutcome
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var cl *kgo.Client
		defer func() {
			if cl != nil {
				cl.Close()
			}
		}()
		for i := 0; ; i++ {
			select {
			case <-quit:
				return
			default:
			}
			if cl == nil {
				var err error
				cl, err = kgo.NewClient(kgo.SeedBrokers(bp.addr()),
					kgo.TransactionalID(txnID),
					kgo.TransactionTimeout(txnTimeout),
					kgo.RecordPartitioner(kgo.ManualPartitioner()),
					kgo.RetryTimeout(1*time.Second),
					kgo.RequestTimeoutOverhead(2*time.Second),
					kgo.ProduceRequestTimeout(3*time.Second),
				)
				if err != nil {
					t.Errorf("client: %v", err)
					return
				}
			}
			commit := i%abortEvery != abortEvery-1
			out := func() txnOutcome {
				ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
				defer cancel()
				if err := cl.BeginTransaction(); err != nil {
					return txnUnknown
				}
				if err := produce(ctx, cl, i); err != nil {
					cl.EndTransaction(ctx, kgo.TryAbort)
					return txnUnknown
				}
				end := kgo.TryAbort
				if commit {
					end = kgo.TryCommit
				}
				if err := cl.EndTransaction(ctx, end); err != nil {
					return txnUnknown
				}
				if commit {
					return txnCommitted
				}
				return txnAborted
			}()
			outcomes = append(outcomes, out)
			if out == txnUnknown {
				cl.Close() // the next producer's InitProducerId aborts what is left open
				cl = nil
				time.Sleep(50 * time.Millisecond)
			}
		}
	}()
	return func() []txnOutcome {
		close(quit)
		<-done
		return outcomes
	}
}

// txnTally counts the outcomes of transactions and checks what a
// read_committed consumer sees of each.
type txnTally struct{ committed, aborted, unknown, unknownVisible int }

// check: n of the per records of transaction i, whose producer learned
// out, are visible: all if committed, none if aborted, all or none if
// unknown.
func (c *txnTally) check(t *testing.T, i int, out txnOutcome, n, per int) {
	t.Helper()
	switch out {
	case txnCommitted:
		c.committed++
		if n != per {
			t.Errorf("transaction %d: commit acknowledged, %d of %d records visible", i, n, per)
		}
	case txnAborted:
		c.aborted++
		if n != 0 {
			t.Errorf("transaction %d: abort acknowledged, %d records visible to read_committed", i, n)
		}
	case txnUnknown:
		c.unknown++
		if n != 0 && n != per {
			t.Errorf("transaction %d: outcome unknown, %d of %d records visible (not atomic)", i, n, per)
		}
		if n == per {
			c.unknownVisible++
		}
	}
}

func (c *txnTally) log(t *testing.T, attempts, kills int) {
	t.Helper()
	t.Logf("%d transactions: %d committed, %d aborted, %d unknown at a kill (%d of them visible); %d broker kills",
		attempts, c.committed, c.aborted, c.unknown, c.unknownVisible, kills)
}
