package broker_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-stream/chronik/broker"
)

// Transactions end to end with franz-go: commit/abort visibility for
// read_committed and read_uncommitted, the LSO from ListOffsets while a
// transaction is open, kadm DescribeTransactions / ListTransactions /
// DescribeProducers, fencing by a second producer with the same id, and the
// coordinator aborting a transaction that outlives its timeout.
//
// CHRONIK_TXN_TEST_ADDR=host:port runs these against that broker instead of
// an in-process one (used to check the expectations against Apache Kafka,
// which should then have transaction.abort.timed.out.transaction.cleanup.interval.ms
// at 1000 or less for TestTxnFranzTimeout).

// txnBroker is the address of a broker for a transaction test: an in-process
// Chronik with configs, or CHRONIK_TXN_TEST_ADDR.
func txnBroker(t *testing.T, configs map[string]string) string {
	t.Helper()
	if addr := os.Getenv("CHRONIK_TXN_TEST_ADDR"); addr != "" {
		return addr
	}
	_, addr := startBroker(t, func(c *broker.Config) {
		if len(configs) > 0 {
			if c.BrokerConfigs == nil {
				c.BrokerConfigs = map[string]string{}
			}
			for k, v := range configs {
				c.BrokerConfigs[k] = v
			}
		}
	})
	return addr
}

// txnTopic is a topic name unique to this run (so runs against an external
// broker don't collide), created with one partition.
func txnTopic(t *testing.T, addr, base string) string {
	t.Helper()
	topic := fmt.Sprintf("%s-%d", base, time.Now().UnixNano()%1e9)
	createTopic(t, addr, topic, 1, nil)
	return topic
}

func txnID(base string) string { return fmt.Sprintf("%s-%d", base, time.Now().UnixNano()%1e9) }

// readIso reads partition 0 of topic from the start with the isolation level
// until it has want records, then keeps polling briefly to catch extras. It
// returns the values.
func readIso(t *testing.T, addr, topic string, iso kgo.IsolationLevel, want int) []string {
	t.Helper()
	cl := newFranz(t, addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
		topic: {0: kgo.NewOffset().AtStart()},
	}), kgo.FetchIsolationLevel(iso), kgo.FetchMaxWait(200*time.Millisecond))
	defer cl.Close()
	var out []string
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for len(out) < want && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachError(func(tp string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("fetch %s/%d: %v", tp, p, err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) { out = append(out, string(r.Value)) })
	}
	extra, cancel2 := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel2()
	for extra.Err() == nil {
		cl.PollFetches(extra).EachRecord(func(r *kgo.Record) { out = append(out, string(r.Value)) })
	}
	return out
}

func txnClient(t *testing.T, addr, id string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	return newFranz(t, addr, append([]kgo.Opt{
		kgo.TransactionalID(id),
		kgo.DefaultProduceTopic(""),
		kgo.RetryTimeout(10 * time.Second),
	}, opts...)...)
}

func runTxn(t *testing.T, cl *kgo.Client, topic string, commit bool, values ...string) {
	t.Helper()
	ctx := testCtx(t)
	if err := cl.BeginTransaction(); err != nil {
		t.Fatalf("begin: %v", err)
	}
	for _, v := range values {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: 0, Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatalf("produce %s: %v", v, err)
		}
	}
	end := kgo.TryAbort
	if commit {
		end = kgo.TryCommit
	}
	if err := cl.EndTransaction(ctx, end); err != nil {
		t.Fatalf("end transaction (commit=%v): %v", commit, err)
	}
}

func TestTxnFranzVisibility(t *testing.T) {
	addr := txnBroker(t, nil)
	topic := txnTopic(t, addr, "txn-vis")
	cl := txnClient(t, addr, txnID("txn-vis"))
	runTxn(t, cl, topic, true, "c1-0", "c1-1", "c1-2")
	runTxn(t, cl, topic, false, "a1-0", "a1-1")
	runTxn(t, cl, topic, true, "c2-0", "c2-1")
	runTxn(t, cl, topic, false, "a2-0")

	if got, want := readIso(t, addr, topic, kgo.ReadCommitted(), 5), []string{"c1-0", "c1-1", "c1-2", "c2-0", "c2-1"}; !slices.Equal(got, want) {
		t.Errorf("read_committed: got %q, want %q", got, want)
	}
	if got, want := readIso(t, addr, topic, kgo.ReadUncommitted(), 8), []string{"c1-0", "c1-1", "c1-2", "a1-0", "a1-1", "c2-0", "c2-1", "a2-0"}; !slices.Equal(got, want) {
		t.Errorf("read_uncommitted: got %q, want %q", got, want)
	}
	// 8 records and 4 markers: both end offsets are 12 once nothing is open.
	adm := kadm.NewClient(newFranz(t, addr))
	waitEnds(t, adm, topic, 12, 12)
}

// waitEnds is checkEnds once the offsets match or after 10 s: EndTxn may
// answer before the markers are in the log (Kafka writes them afterwards).
func waitEnds(t *testing.T, adm *kadm.Client, topic string, hw, lso int64) {
	t.Helper()
	ctx := testCtx(t)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		ends, err1 := adm.ListEndOffsets(ctx, topic)
		committed, err2 := adm.ListCommittedOffsets(ctx, topic)
		if err1 != nil || err2 != nil {
			continue
		}
		e, _ := ends.Lookup(topic, 0)
		c, _ := committed.Lookup(topic, 0)
		if e.Err == nil && c.Err == nil && e.Offset == hw && c.Offset == lso {
			return
		}
	}
	checkEnds(t, adm, topic, hw, lso)
}

// checkEnds: ListOffsets latest with read_uncommitted is hw, with
// read_committed lso.
func checkEnds(t *testing.T, adm *kadm.Client, topic string, hw, lso int64) {
	t.Helper()
	ctx := testCtx(t)
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	e, ok := ends.Lookup(topic, 0)
	if !ok || e.Err != nil || e.Offset != hw {
		t.Errorf("ListOffsets read_uncommitted: %+v (found %v), want offset %d", e, ok, hw)
	}
	c, ok := committed.Lookup(topic, 0)
	if !ok || c.Err != nil || c.Offset != lso {
		t.Errorf("ListOffsets read_committed (LSO): %+v (found %v), want offset %d", c, ok, lso)
	}
}

// TestTxnFranzOpenTransaction: while a transaction is open, ListOffsets
// read_committed answers its first offset (the LSO), read_committed
// consumers stop there, and the admin APIs show it.
func TestTxnFranzOpenTransaction(t *testing.T) {
	addr := txnBroker(t, nil)
	topic := txnTopic(t, addr, "txn-open")
	id := txnID("txn-open")
	cl := txnClient(t, addr, id, kgo.TransactionTimeout(60*time.Second))
	adm := kadm.NewClient(newFranz(t, addr))
	ctx := testCtx(t)

	runTxn(t, cl, topic, true, "before") // offset 0, marker at 1
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	start := time.Now().UnixMilli()
	for _, v := range []string{"open-0", "open-1"} { // offsets 2 and 3
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: 0, Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	waitEnds(t, adm, topic, 4, 2)
	if got, want := readIso(t, addr, topic, kgo.ReadCommitted(), 1), []string{"before"}; !slices.Equal(got, want) {
		t.Errorf("read_committed while open: got %q, want %q", got, want)
	}
	if got, want := readIso(t, addr, topic, kgo.ReadUncommitted(), 3), []string{"before", "open-0", "open-1"}; !slices.Equal(got, want) {
		t.Errorf("read_uncommitted while open: got %q, want %q", got, want)
	}

	// DescribeTransactions: Ongoing, with the partition and the timeout.
	dts, err := adm.DescribeTransactions(ctx, id)
	if err != nil {
		t.Fatalf("DescribeTransactions: %v", err)
	}
	dt, ok := dts[id]
	if !ok || dt.Err != nil {
		t.Fatalf("DescribeTransactions %s: %+v (found %v)", id, dt, ok)
	}
	if dt.State != "Ongoing" {
		t.Errorf("DescribeTransactions state %q, want Ongoing", dt.State)
	}
	if dt.TimeoutMillis != 60000 {
		t.Errorf("DescribeTransactions timeout %d, want 60000", dt.TimeoutMillis)
	}
	if !dt.Topics.Lookup(topic, 0) {
		t.Errorf("DescribeTransactions topics %v, want %s/0", dt.Topics, topic)
	}
	if dt.StartTimestamp < start-60000 || dt.StartTimestamp > time.Now().UnixMilli()+60000 {
		t.Errorf("DescribeTransactions start timestamp %d, began about %d", dt.StartTimestamp, start)
	}
	pid := dt.ProducerID

	// ListTransactions (filtered by state and by producer id) lists it.
	lts, err := adm.ListTransactions(ctx, nil, []string{"Ongoing"})
	if err != nil {
		t.Fatalf("ListTransactions: %v", err)
	}
	if lt, ok := lts[id]; !ok || lt.State != "Ongoing" || lt.ProducerID != pid {
		t.Errorf("ListTransactions(Ongoing) %s: %+v (found %v), want Ongoing pid %d", id, lt, ok, pid)
	}
	lts, err = adm.ListTransactions(ctx, []int64{pid}, nil)
	if err != nil {
		t.Fatalf("ListTransactions by pid: %v", err)
	}
	if _, ok := lts[id]; !ok || len(lts) != 1 {
		t.Errorf("ListTransactions(pid %d): %v, want only %s", pid, lts.TransactionalIDs(), id)
	}

	// DescribeProducers: the producer, with the open transaction's first offset.
	dps, err := adm.DescribeProducers(ctx, kadm.TopicsSet{topic: {0: {}}})
	if err != nil {
		t.Fatalf("DescribeProducers: %v", err)
	}
	dp, ok := dps[topic].Partitions[0]
	if !ok || dp.Err != nil {
		t.Fatalf("DescribeProducers %s/0: %+v (found %v)", topic, dp, ok)
	}
	found := false
	for _, p := range dp.ActiveProducers {
		if p.ProducerID == pid {
			found = true
			if p.CurrentTxnStartOffset != 2 {
				t.Errorf("DescribeProducers current txn start offset %d, want 2", p.CurrentTxnStartOffset)
			}
			if p.ProducerEpoch != dt.ProducerEpoch {
				t.Errorf("DescribeProducers epoch %d, DescribeTransactions epoch %d", p.ProducerEpoch, dt.ProducerEpoch)
			}
		}
	}
	if !found {
		t.Errorf("DescribeProducers: producer %d not among %+v", pid, dp.ActiveProducers)
	}

	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	waitEnds(t, adm, topic, 5, 5)
	if got, want := readIso(t, addr, topic, kgo.ReadCommitted(), 3), []string{"before", "open-0", "open-1"}; !slices.Equal(got, want) {
		t.Errorf("read_committed after commit: got %q, want %q", got, want)
	}
	dts, err = adm.DescribeTransactions(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if st := dts[id].State; st != "CompleteCommit" && st != "Empty" {
		t.Errorf("DescribeTransactions after commit: state %q, want CompleteCommit", st)
	}
	lts, err = adm.ListTransactions(ctx, nil, []string{"Ongoing"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := lts[id]; ok {
		t.Errorf("ListTransactions(Ongoing) still lists %s after commit", id)
	}
	dps, err = adm.DescribeProducers(ctx, kadm.TopicsSet{topic: {0: {}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range dps[topic].Partitions[0].ActiveProducers {
		if p.ProducerID == pid && p.CurrentTxnStartOffset != -1 {
			t.Errorf("DescribeProducers after commit: current txn start offset %d, want -1", p.CurrentTxnStartOffset)
		}
	}
}

// TestTxnFranzFencingWrites: a second producer with the same transactional
// id fences the first; the first's open transaction is aborted, its later
// produce/commit fail, and nothing it wrote after (or in the transaction
// open at) the fencing is ever visible to read_committed.
func TestTxnFranzFencingWrites(t *testing.T) {
	addr := txnBroker(t, nil)
	topic := txnTopic(t, addr, "txn-fence")
	id := txnID("txn-fence")
	ctx := testCtx(t)
	a := txnClient(t, addr, id, kgo.RetryTimeout(3*time.Second))
	runTxn(t, a, topic, true, "a-committed")
	if err := a.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := a.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: 0, Value: []byte("a-open")}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	b := txnClient(t, addr, id)
	runTxn(t, b, topic, true, "b-committed") // InitProducerId fences a and aborts a-open

	errProduce := a.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: 0, Value: []byte("a-after-fence")}).FirstErr()
	errEnd := a.EndTransaction(ctx, kgo.TryCommit)
	if errProduce == nil && errEnd == nil {
		t.Fatal("fenced producer: produce and commit both succeeded")
	}
	t.Logf("fenced producer: produce %v, end %v", errProduce, errEnd)
	runTxn(t, b, topic, true, "b-committed-2")

	want := []string{"a-committed", "b-committed", "b-committed-2"}
	if got := readIso(t, addr, topic, kgo.ReadCommitted(), len(want)); !slices.Equal(got, want) {
		t.Errorf("read_committed: got %q, want %q", got, want)
	}
	got := readIso(t, addr, topic, kgo.ReadUncommitted(), 4)
	if !slices.Contains(got, "a-open") {
		t.Errorf("read_uncommitted %q lacks a-open (the aborted write)", got)
	}
}

// TestTxnFranzTimeout: a transaction left open past transaction.timeout.ms
// is aborted by the coordinator: read_committed never sees it, the LSO
// moves past it, and the producer cannot commit it any more.
func TestTxnFranzTimeout(t *testing.T) {
	addr := txnBroker(t, map[string]string{
		"transaction.abort.timed.out.transaction.cleanup.interval.ms": "200",
	})
	topic := txnTopic(t, addr, "txn-timeout")
	id := txnID("txn-timeout")
	ctx := testCtx(t)
	cl := txnClient(t, addr, id, kgo.TransactionTimeout(1500*time.Millisecond), kgo.RetryTimeout(3*time.Second))
	adm := kadm.NewClient(newFranz(t, addr))

	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: 0, Value: []byte("t" + strconv.Itoa(i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	waitEnds(t, adm, topic, 3, 0)

	deadline := time.Now().Add(15 * time.Second)
	state := ""
	for time.Now().Before(deadline) {
		dts, err := adm.DescribeTransactions(ctx, id)
		if err == nil {
			state = dts[id].State
			if state == "CompleteAbort" || state == "Empty" {
				break
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	if state != "CompleteAbort" {
		t.Fatalf("transaction not aborted 15 s after its 1.5 s timeout: state %q", state)
	}
	waitEnds(t, adm, topic, 4, 4) // the abort marker at 3
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err == nil {
		// The commit must not resurrect the records in any case.
		t.Log("EndTransaction(commit) after the timeout returned no error")
	} else {
		t.Logf("EndTransaction(commit) after the timeout: %v", err)
	}
	if got := readIso(t, addr, topic, kgo.ReadCommitted(), 0); len(got) != 0 {
		t.Errorf("read_committed sees %q of the timed-out transaction", got)
	}
	if got := readIso(t, addr, topic, kgo.ReadUncommitted(), 3); !slices.Equal(got, []string{"t0", "t1", "t2"}) {
		t.Errorf("read_uncommitted: got %q, want t0 t1 t2", got)
	}
}

// TestTxnFranzGroupTransactSession: consume-transform-produce with a
// GroupTransactSession, one round committed, one aborted: the output holds
// only the committed round for read_committed and the group's committed
// offset advanced only with it.
func TestTxnFranzGroupTransactSession(t *testing.T) {
	addr := txnBroker(t, nil)
	src := txnTopic(t, addr, "txn-gts-src")
	dst := txnTopic(t, addr, "txn-gts-dst")
	group := txnID("txn-gts-group")
	ctx := testCtx(t)

	plain := newFranz(t, addr)
	for i := range 4 {
		if err := plain.ProduceSync(ctx, &kgo.Record{Topic: src, Partition: 0, Value: []byte("in" + strconv.Itoa(i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	sess, err := kgo.NewGroupTransactSession(
		kgo.SeedBrokers(addr),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.TransactionalID(txnID("txn-gts")),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(src),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequireStableFetchOffsets(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200*time.Millisecond),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()

	var in []*kgo.Record
	for len(in) < 4 {
		fs := sess.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of 4 input records", len(in))
		}
		in = append(in, fs.Records()...)
	}
	if err := sess.Begin(); err != nil {
		t.Fatal(err)
	}
	for _, r := range in {
		sess.Produce(ctx, &kgo.Record{Topic: dst, Partition: 0, Value: append([]byte("out-"), r.Value...)}, nil)
	}
	committed, err := sess.End(ctx, kgo.TryCommit)
	if err != nil || !committed {
		t.Fatalf("End(commit): committed %v, err %v", committed, err)
	}

	// A second round that is aborted writes nothing visible.
	if err := sess.Begin(); err != nil {
		t.Fatal(err)
	}
	sess.Produce(ctx, &kgo.Record{Topic: dst, Partition: 0, Value: []byte("aborted")}, nil)
	if _, err := sess.End(ctx, kgo.TryAbort); err != nil {
		t.Fatalf("End(abort): %v", err)
	}

	want := []string{"out-in0", "out-in1", "out-in2", "out-in3"}
	if got := readIso(t, addr, dst, kgo.ReadCommitted(), 4); !slices.Equal(got, want) {
		t.Errorf("read_committed output: got %q, want %q", got, want)
	}
	adm := kadm.NewClient(newFranz(t, addr))
	// The offsets become visible with the commit markers, which may trail EndTxn.
	var offs kadm.OffsetResponses
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if offs, err = adm.FetchOffsets(ctx, group); err != nil {
			t.Fatal(err)
		}
		if o, ok := offs.Lookup(src, 0); ok && o.At == 4 {
			break
		}
	}
	if o, ok := offs.Lookup(src, 0); !ok || o.At != 4 {
		t.Errorf("group %s offset for %s/0: %+v (found %v), want 4", group, src, o, ok)
	}
}
