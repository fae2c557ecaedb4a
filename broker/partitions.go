package broker

import (
	"errors"
	"fmt"

	klog "github.com/chronik-stream/chronik/internal/log"
	"github.com/chronik-stream/chronik/internal/meta"
)

// Changes to a live topic: more partitions (CreatePartitions) and new
// config overrides (AlterConfigs, IncrementalAlterConfigs). The metadata
// store changes first; then the logs follow; then refreshTopic publishes a
// new topicState, so a request that looked the topic up before keeps a
// consistent (older) view.

// maxNewPartitions bounds the partitions one CreatePartitions topic may
// add, as Kafka's controller bounds the records of one operation.
const maxNewPartitions = 10000

// createPartitions raises the partition count of name to total: the count
// is persisted, the new partition logs are opened (a crash in between is
// finished by New, which opens every partition the metadata lists) and the
// topic is republished.
func (b *Broker) createPartitions(name string, total int32, validateOnly bool) error {
	b.topicMu.Lock()
	defer b.topicMu.Unlock()
	t, err := b.meta.CreatePartitions(name, total, validateOnly)
	if err != nil || validateOnly {
		return err
	}
	cfg := b.logConfig(t, b.brokerConfigs())
	var errs []error
	for i := int32(0); i < t.Partitions; i++ {
		if _, err := b.logs.Create(name, i, cfg); err != nil { // returns open ones as they are
			errs = append(errs, fmt.Errorf("broker: opening %s-%d: %w", name, i, err))
			break
		}
	}
	b.refreshTopic(name)
	if err := errors.Join(errs...); err != nil {
		b.log.Error("added partitions but could not open them all", "topic", name, "partitions", total, "err", err)
		return err
	}
	b.log.Info("partitions created", "topic", name, "partitions", total)
	return nil
}

// refreshTopic publishes a new topicState for name from the metadata store
// and the open partition logs: the current overrides, conversion settings
// and every partition up to the first that is not open. It also gives the
// open partitions the log config of the current overrides (segment size and
// time, index interval, max message size, timestamp type:
// Partition.SetConfig applies from the next append). Reading the store and
// applying happen under topicsMu, so concurrent changes cannot leave an
// older config applied last. It does nothing for a topic that is not
// published, or was deleted and re-created.
func (b *Broker) refreshTopic(name string) {
	b.topicsMu.Lock() // lock order: topicsMu, then the store's, the log manager's and a partition's locks
	defer b.topicsMu.Unlock()
	cur := b.topics[name]
	t, ok := b.meta.Topic(name)
	if cur == nil || !ok || cur.meta.ID != t.ID {
		return
	}
	bc := b.brokerConfigs()
	cfg := b.logConfig(t, bc)
	ts := &topicState{meta: t, conv: conversionFor(t, bc), parts: make([]*klog.Partition, 0, t.Partitions)}
	for i := int32(0); i < t.Partitions; i++ {
		p := b.logs.Partition(name, i)
		if p == nil {
			break
		}
		p.SetConfig(cfg)
		ts.parts = append(ts.parts, p)
	}
	b.topics[name] = ts
	b.byID[t.ID] = ts
}

// setTopicConfigs replaces a topic's overrides (AlterConfigs).
func (b *Broker) setTopicConfigs(name string, configs map[string]string, validateOnly bool) error {
	if err := b.meta.SetTopicConfigs(name, configs, validateOnly); err != nil || validateOnly {
		return err
	}
	b.refreshTopic(name)
	b.log.Info("topic configs changed", "topic", name)
	return nil
}

// alterTopicConfigs applies IncrementalAlterConfigs operations.
func (b *Broker) alterTopicConfigs(name string, ops []meta.ConfigOp, validateOnly bool) error {
	if err := b.meta.AlterTopicConfigs(name, ops, validateOnly); err != nil || validateOnly {
		return err
	}
	b.refreshTopic(name)
	b.log.Info("topic configs changed", "topic", name)
	return nil
}
