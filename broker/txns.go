package broker

// Glue between the broker and the transaction coordinator (internal/txn):
// its configuration from the broker configs, and helpers the transaction
// handlers (22, 24, 25, 26, 28, 65, 66) share.

import (
	"path/filepath"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/chronik-stream/chronik/internal/group"
	klog "github.com/chronik-stream/chronik/internal/log"
	"github.com/chronik-stream/chronik/internal/txn"
)

// txnDir is the coordinator's directory under the data directory. It has
// no "-<n>" suffix, so the log Manager does not take it for a partition.
const txnDir = "__txn"

// openTxns opens the transaction coordinator; New calls it once the
// topics are open, so that transactions a crash left half-ended are
// finished before the broker serves.
func (b *Broker) openTxns() error {
	bc := b.cfg.BrokerConfigs
	ms := func(name string, def int64) time.Duration {
		s, ok := bc[name]
		if !ok {
			return time.Duration(def) * time.Millisecond
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v <= 0 {
			b.log.Warn("ignoring an invalid broker config", "name", name, "value", s)
			return time.Duration(def) * time.Millisecond
		}
		return time.Duration(v) * time.Millisecond
	}
	c, err := txn.Open(txn.Config{
		Dir:            filepath.Join(b.cfg.DataDir, txnDir),
		FS:             b.cfg.FS,
		Logger:         b.log.With("component", "txn_coordinator"),
		NextProducerID: b.meta.NextProducerID,
		Partition: func(topic string, partition int32) *klog.Partition {
			return b.topic(topic).partition(partition)
		},
		CommitOffsets: b.commitTxnOffsets,
		MaxTimeout:    ms("transaction.max.timeout.ms", 900000),
		AbortInterval: ms("transaction.abort.timed.out.transaction.cleanup.interval.ms", 10000),
		IDExpiration:  ms("transactional.id.expiration.ms", 604800000),
	})
	if err != nil {
		return err
	}
	b.txns = c
	return nil
}

// commitTxnOffsets hands a committed transaction's offsets to the group
// coordinator.
func (b *Broker) commitTxnOffsets(groupID string, offs map[txn.TP]txn.Offset) error {
	gc, err := b.coordinator()
	if err != nil {
		return err
	}
	list := make([]group.TxnOffset, 0, len(offs))
	for tp, o := range offs {
		list = append(list, group.TxnOffset{
			Topic: tp.Topic, Partition: tp.Partition, Offset: o.Offset,
			LeaderEpoch: o.LeaderEpoch, Metadata: o.Metadata, CommitTime: time.UnixMilli(o.CommitTime),
		})
	}
	return gc.CommitTxn(groupID, list)
}

// txnErr maps an error of the transaction coordinator for a response of
// the given API version: PRODUCER_FENCED exists from the versions noted in
// Kafka's handlers (InitProducerId v4, EndTxn v2,
// AddPartitionsToTxn v2, AddOffsetsToTxn v2); older ones get
// INVALID_PRODUCER_EPOCH, as Kafka answers them.
func txnErr(err error, version, fencedFrom int16) int16 {
	code := errorCode(err)
	if code == kerr.ProducerFenced.Code && version < fencedFrom {
		return kerr.InvalidProducerEpoch.Code
	}
	return code
}
