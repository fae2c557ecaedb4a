package durability

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

const partitions = 3

// outcome is what the producer learned about one record.
type outcome struct {
	done   bool
	acked  bool
	offset int64 // valid when acked
	err    error // when done and not acked
}

// ledger records, per partition and in production order, the outcome of
// every record produced. Record seq of partition p carries the payload
// "p<p>-<seq>".
type ledger struct {
	mu   sync.Mutex
	recs [partitions][]outcome
}

// payload is the value of record seq of partition p: "p<p>-<seq>", padded
// with "|…" to payloadSize bytes so that segments roll during the test.
func payload(p int32, seq int) string {
	s := fmt.Sprintf("p%d-%d|", p, seq)
	return s + strings.Repeat(".", max(0, payloadSize-len(s)))
}

const payloadSize = 100

// parsePayload is the inverse of payload.
func parsePayload(v string) (int32, int, bool) {
	s, pad, ok := strings.Cut(v, "|")
	if !ok || strings.Trim(pad, ".") != "" {
		return 0, 0, false
	}
	s, ok = strings.CutPrefix(s, "p")
	if !ok {
		return 0, 0, false
	}
	ps, ss, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, false
	}
	p, err1 := strconv.Atoi(ps)
	seq, err2 := strconv.Atoi(ss)
	if err1 != nil || err2 != nil || p < 0 || p >= partitions || seq < 0 {
		return 0, 0, false
	}
	return int32(p), seq, true
}

// crashSchedule is how many times the broker is killed and the pause
// before each kill.
const (
	kills    = 4
	minPause = 300 * time.Millisecond
	maxPause = 1500 * time.Millisecond
)

func TestKill9IdempotentProducer(t *testing.T) {
	testKill9(t, true)
}

func TestKill9AcksAllProducer(t *testing.T) {
	testKill9(t, false)
}

// testKill9 produces continuously while the broker is killed with SIGKILL
// and restarted several times, then checks the log against what the
// producer saw acknowledged.
func testKill9(t *testing.T, idempotent bool) {
	if testing.Short() {
		t.Skip("kill -9 tests run the broker binary; skipped with -short")
	}
	rng := testRand(t, 0)

	bp := newBrokerProc(t)
	bp.start()
	const topic = "crash"
	// Small segments, so crashes land around segment rolls too.
	segBytes := "1048576"
	createTopic(t, bp.addr(), topic, partitions, map[string]*string{"segment.bytes": &segBytes})

	var dataLoss atomic.Int64
	opts := []kgo.Opt{
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RecordDeliveryTimeout(30 * time.Second),
		kgo.ProduceRequestTimeout(10 * time.Second),
		kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }),
		// Refresh metadata right after a failed dial instead of waiting
		// the default 5s, so that the producer is busy at every kill.
		kgo.MetadataMinAge(50 * time.Millisecond),
		kgo.ProducerOnDataLossDetected(func(topic string, p int32) {
			dataLoss.Add(1)
			t.Logf("franz-go detected data loss on %s/%d", topic, p)
		}),
	}
	if !idempotent {
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	cl := newClient(t, bp.addr(), opts...)

	var led ledger
	stop := make(chan struct{})
	producerDone := make(chan struct{})
	go func() {
		defer close(producerDone)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			p := int32(i % partitions)
			led.mu.Lock()
			seq := len(led.recs[p])
			led.recs[p] = append(led.recs[p], outcome{})
			led.mu.Unlock()
			r := &kgo.Record{Topic: topic, Partition: p, Value: []byte(payload(p, seq))}
			cl.Produce(context.Background(), r, func(r *kgo.Record, err error) {
				led.mu.Lock()
				o := &led.recs[p][seq]
				o.done = true
				if err == nil {
					o.acked, o.offset = true, r.Offset
				} else {
					o.err = err
				}
				led.mu.Unlock()
			})
		}
	}()

	produced := func() int {
		led.mu.Lock()
		defer led.mu.Unlock()
		n := 0
		for p := range partitions {
			n += len(led.recs[p])
		}
		return n
	}
	start := time.Now()
	for k := 1; k <= kills; k++ {
		pause := minPause + time.Duration(rng.Int64N(int64(maxPause-minPause)))
		time.Sleep(pause)
		bp.kill()
		t.Logf("kill %d after %v: %d records produced so far", k, pause, produced())
		bp.start()
	}
	// Let the producer make progress on the last incarnation too.
	time.Sleep(minPause + time.Duration(rng.Int64N(int64(maxPause-minPause))))
	close(stop)
	<-producerDone
	flushCtx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	if err := cl.Flush(flushCtx); err != nil {
		t.Errorf("flushing the producer: %v", err)
	}
	cancel()
	cl.Close()
	produceTime := time.Since(start)

	// A clean restart, then read everything back.
	if code, took := bp.term(15 * time.Second); code != 0 {
		t.Errorf("SIGTERM: exit code %d after %v", code, took)
	}
	bp.start()
	got, hw := consumeAll(t, bp.addr(), topic, partitions)

	led.mu.Lock()
	defer led.mu.Unlock()
	var st stats
	for p := range int32(partitions) {
		st.add(checkPartition(t, p, led.recs[p], got[p], hw[p], idempotent))
	}
	t.Logf("%s: %d kills, %d records produced in %v: %d acked, %d unacked present, %d unacked absent, %d duplicate copies in the log, %d promises never called; high watermarks %v",
		map[bool]string{true: "idempotent acks=all", false: "acks=all, not idempotent"}[idempotent],
		kills, st.produced, produceTime.Round(time.Millisecond), st.acked, st.unackedPresent, st.unackedAbsent, st.dupCopies, st.notDone, hw)
	if st.notDone > 0 {
		t.Errorf("%d records never had their promise called after Flush", st.notDone)
	}
	if st.acked == 0 {
		t.Errorf("no record was acknowledged")
	}
	if idempotent && dataLoss.Load() > 0 {
		t.Errorf("franz-go detected data loss %d times", dataLoss.Load())
	}
	if len(st.failReasons) > 0 {
		t.Logf("promise failures (first of each): %v", st.failReasons)
	}
	bp.checkLog()
}

type stats struct {
	produced, acked, unackedPresent, unackedAbsent, dupCopies, notDone int
	failReasons                                                        map[string]int
}

func (s *stats) add(o stats) {
	s.produced += o.produced
	s.acked += o.acked
	s.unackedPresent += o.unackedPresent
	s.unackedAbsent += o.unackedAbsent
	s.dupCopies += o.dupCopies
	s.notDone += o.notDone
	for k, v := range o.failReasons {
		if s.failReasons == nil {
			s.failReasons = make(map[string]int)
		}
		s.failReasons[k] += v
	}
}

// checkPartition compares one partition's log with the producer's ledger.
func checkPartition(t *testing.T, p int32, recs []outcome, log []logRecord, hw int64, idempotent bool) stats {
	t.Helper()
	const maxReports = 10
	reports := 0
	errorf := func(format string, args ...any) {
		t.Helper()
		if reports++; reports <= maxReports {
			t.Errorf("partition %d: "+format, append([]any{p}, args...)...)
		} else if reports == maxReports+1 {
			t.Errorf("partition %d: more errors follow; not shown", p)
		}
	}

	// The log: offsets 0..hw-1, each a record we produced to p.
	if int64(len(log)) != hw {
		errorf("read %d records below the high watermark %d", len(log), hw)
		if int64(len(log)) > hw {
			log = log[:hw]
		}
	}
	copies := make([]int, len(recs))
	firstAt := make([]int64, len(recs))
	lastSeq := -1
	for i, r := range log {
		if r.Offset != int64(i) {
			errorf("the record at position %d has offset %d: offsets are not contiguous from 0", i, r.Offset)
			break
		}
		pp, seq, ok := parsePayload(r.Value)
		if !ok || pp != p || seq >= len(recs) {
			errorf("offset %d holds %q, which was never produced to this partition", r.Offset, r.Value)
			continue
		}
		if copies[seq] == 0 {
			firstAt[seq] = r.Offset
		}
		copies[seq]++
		if idempotent && copies[seq] > 1 {
			errorf("record %q is in the log twice (offsets %d and %d)", r.Value, firstAt[seq], r.Offset)
		}
		if idempotent && seq <= lastSeq {
			t.Logf("partition %d: offset %d holds seq %d after seq %d (production order broken%s)", p, r.Offset, seq, lastSeq,
				map[bool]string{true: "", false: "; unacknowledged"}[recs[seq].acked])
		}
		lastSeq = max(lastSeq, seq)
	}

	st := stats{produced: len(recs)}
	prevAcked := int64(-1)
	for seq, o := range recs {
		switch {
		case !o.done:
			st.notDone++
		case o.acked:
			st.acked++
			want := payload(p, seq)
			switch {
			case o.offset < 0 || o.offset >= int64(len(log)):
				errorf("%s was acknowledged at offset %d, beyond the %d records in the log (lost)", want, o.offset, len(log))
			case log[o.offset].Value != want:
				at := "absent"
				if copies[seq] > 0 {
					at = fmt.Sprintf("first at offset %d", firstAt[seq])
				}
				errorf("%s was acknowledged at offset %d, which holds %q (%s: %s)", want, o.offset, log[o.offset].Value, want, at)
			}
			if idempotent && copies[seq] != 1 {
				errorf("acknowledged %s is in the log %d times", want, copies[seq])
			}
			if idempotent && o.offset <= prevAcked {
				errorf("acknowledged %s at offset %d, not after the previous acknowledged record (offset %d): order broken", want, o.offset, prevAcked)
			}
			prevAcked = o.offset
		default:
			if copies[seq] > 0 {
				st.unackedPresent++
			} else {
				st.unackedAbsent++
			}
			if st.failReasons == nil {
				st.failReasons = make(map[string]int)
			}
			st.failReasons[o.err.Error()]++
		}
		if copies[seq] > 1 {
			st.dupCopies += copies[seq] - 1
		}
	}
	return st
}

func TestSigtermCleanShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the broker binary; skipped with -short")
	}
	bp := newBrokerProc(t)
	bp.start()
	const topic = "sigterm"
	createTopic(t, bp.addr(), topic, partitions, nil)

	cl := newClient(t, bp.addr(), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const n = 3000
	var rs []*kgo.Record
	for i := range n {
		p := int32(i % partitions)
		rs = append(rs, &kgo.Record{Topic: topic, Partition: p, Value: []byte(payload(p, i/partitions))})
	}
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatalf("producing: %v", err)
	}
	// The producer stays connected while the broker shuts down: an idle
	// client connection must not hold up the exit.
	code, took := bp.term(10 * time.Second)
	t.Logf("SIGTERM: exit code %d after %v", code, took.Round(time.Millisecond))
	if code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
	if took > 5*time.Second {
		t.Errorf("shutdown took %v, want a few seconds at most", took)
	}
	if !strings.Contains(string(bp.log()), "broker stopped") {
		t.Errorf(`broker stderr lacks "broker stopped"`)
	}
	cl.Close()

	bp.start()
	got, hw := consumeAll(t, bp.addr(), topic, partitions)
	for p := range int32(partitions) {
		if hw[p] != n/partitions {
			t.Errorf("partition %d: high watermark %d after a clean restart, want %d", p, hw[p], n/partitions)
		}
		for i, r := range got[p] {
			if want := payload(p, i); r.Offset != int64(i) || r.Value != want {
				t.Fatalf("partition %d: record %d is %q at offset %d, want %q at %d", p, i, r.Value, r.Offset, want, i)
			}
		}
	}
	// New records continue the offsets.
	cl2 := newClient(t, bp.addr(), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	r := &kgo.Record{Topic: topic, Partition: 1, Value: []byte("after")}
	if err := cl2.ProduceSync(ctx, r).FirstErr(); err != nil {
		t.Fatalf("producing after restart: %v", err)
	}
	if r.Offset != n/partitions {
		t.Errorf("first record after the restart is at offset %d, want %d", r.Offset, n/partitions)
	}
	cl2.Close()
	if code, _ := bp.term(10 * time.Second); code != 0 {
		t.Errorf("second SIGTERM: exit code %d", code)
	}
	bp.checkLog()
}

// testRand returns the random source of a kill schedule, seeded from the
// clock or CHRONIK_TEST_SEED, and logs the seed; salt tells tests apart.
func testRand(t *testing.T, salt uint64) *rand.Rand {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("CHRONIK_TEST_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (set CHRONIK_TEST_SEED to repeat the schedule)", seed)
	return rand.New(rand.NewPCG(seed, seed^salt))
}
