package log

import (
	"cmp"
	"slices"
)

// ProducerInfo is one producer the partition keeps idempotence state for,
// as Kafka's DescribeProducers reports it (ProducerStateManager's
// activeProducers).
type ProducerInfo struct {
	ProducerID    int64
	ProducerEpoch int16
	// LastSequence is the sequence number of the producer's last appended
	// record, -1 when no batch of its current epoch is cached.
	LastSequence int32
	// LastTimestamp is the max timestamp of the producer's last batch, -1
	// when none is cached.
	LastTimestamp int64
	// LastOffset is the offset of the producer's last appended record, -1
	// when none is cached.
	LastOffset int64
	// CurrentTxnStartOffset is the first offset of the producer's open
	// transaction on the partition, -1 when none.
	CurrentTxnStartOffset int64
}

// Producers returns the producers with state in the partition, in producer
// id order: everything the idempotence checks remember, including what was
// restored from snapshots and replayed after a crash, less the producers
// ExpireProducers forgot.
func (p *Partition) Producers() []ProducerInfo {
	p.mu.Lock() // producer state is changed only under the append lock
	out := make([]ProducerInfo, 0, len(p.producers.m))
	for pid, e := range p.producers.m {
		pi := ProducerInfo{ProducerID: pid, ProducerEpoch: e.epoch, LastSequence: -1, LastTimestamp: -1, LastOffset: -1, CurrentTxnStartOffset: -1}
		if e.txnOpen {
			pi.CurrentTxnStartOffset = e.txnFirst
		}
		if e.n > 0 {
			last := &e.batches[e.n-1]
			pi.LastSequence, pi.LastTimestamp, pi.LastOffset = last.lastSeq, last.maxTimestamp, last.lastOffset
		}
		out = append(out, pi)
	}
	p.mu.Unlock()
	slices.SortFunc(out, func(a, b ProducerInfo) int { return cmp.Compare(a.ProducerID, b.ProducerID) })
	return out
}
