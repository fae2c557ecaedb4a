package log

import (
	"testing"
)

func TestProducers(t *testing.T) {
	dir := t.TempDir()
	p := openTest(t, dir, DefaultConfig(), Options{})
	if got := p.Producers(); len(got) != 0 {
		t.Fatalf("new partition lists %d producers", len(got))
	}
	steps := [][]byte{
		makeBatch(batchSpec{idempotent: true, pid: 9, epoch: 2, seq: 0, records: 3, baseTs: 5000, tsStep: 10}),
		makeBatch(batchSpec{records: 2}), // no producer: not listed
		makeBatch(batchSpec{idempotent: true, pid: 4, epoch: 0, seq: 10, records: 1, baseTs: 7000}),
		makeBatch(batchSpec{idempotent: true, pid: 9, epoch: 2, seq: 3, records: 2, baseTs: 6000, tsStep: 5}),
	}
	for _, b := range steps {
		appendWait(t, p, b)
	}
	want := []ProducerInfo{
		{ProducerID: 4, ProducerEpoch: 0, LastSequence: 10, LastTimestamp: 7000, LastOffset: 5, CurrentTxnStartOffset: -1},
		{ProducerID: 9, ProducerEpoch: 2, LastSequence: 4, LastTimestamp: 6005, LastOffset: 7, CurrentTxnStartOffset: -1},
	}
	check := func(when string) {
		t.Helper()
		got := p.Producers()
		if len(got) != len(want) {
			t.Fatalf("%s: %+v, want %+v", when, got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%s: producer %d is %+v, want %+v", when, i, got[i], want[i])
			}
		}
	}
	check("after appends")

	// A duplicate changes nothing; a refused batch neither.
	appendWait(t, p, steps[3])
	if _, err := p.Append(makeBatch(batchSpec{idempotent: true, pid: 9, epoch: 1, seq: 5, records: 1})); err == nil {
		t.Fatal("an older epoch was accepted")
	}
	check("after a duplicate and a fenced batch")

	// A new epoch starts over.
	appendWait(t, p, makeBatch(batchSpec{idempotent: true, pid: 4, epoch: 1, seq: 0, records: 2, baseTs: 9000}))
	want[0] = ProducerInfo{ProducerID: 4, ProducerEpoch: 1, LastSequence: 1, LastTimestamp: 9000, LastOffset: 9, CurrentTxnStartOffset: -1}
	check("after a new epoch")

	// Restored after a restart (snapshot on Close).
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	p = openTest(t, dir, DefaultConfig(), Options{})
	check("after reopening")
}
