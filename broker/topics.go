package broker

import (
	"fmt"

	klog "github.com/chronik-stream/chronik/internal/log"
	"github.com/chronik-stream/chronik/internal/meta"
)

// brokerConfigs is the broker's static configuration by Kafka names.
func (b *Broker) brokerConfigs() meta.BrokerConfigs {
	host, port := b.advHost, b.advPort
	if host == "" {
		host = "127.0.0.1"
	}
	return meta.BrokerConfigs(b.cfg.staticBrokerConfigs(host, port))
}

// logConfig turns a topic's effective configuration into the log's.
func (b *Broker) logConfig(t meta.Topic, bc meta.BrokerConfigs) klog.Config {
	lc := meta.EffectiveLogConfig(t, bc)
	c := klog.DefaultConfig()
	if lc.SegmentBytes > 0 {
		c.SegmentBytes = lc.SegmentBytes
	}
	if lc.SegmentMs > 0 {
		c.SegmentMs = lc.SegmentMs
	}
	if lc.IndexIntervalBytes > 0 {
		c.IndexIntervalBytes = int(lc.IndexIntervalBytes)
	}
	if lc.MaxMessageBytes > 0 {
		c.MaxMessageBytes = int(lc.MaxMessageBytes)
	}
	c.LogAppendTime = lc.LogAppendTime
	c.FlushInterval = b.cfg.FsyncInterval
	return c
}

// openTopic opens (creating where missing) every partition of t and
// registers it.
func (b *Broker) openTopic(t meta.Topic) error {
	cfg := b.logConfig(t, b.brokerConfigs())
	ts := &topicState{meta: t, parts: make([]*klog.Partition, t.Partitions)}
	for i := range ts.parts {
		p, err := b.logs.Create(t.Name, int32(i), cfg)
		if err != nil {
			return fmt.Errorf("broker: opening %s-%d: %w", t.Name, i, err)
		}
		ts.parts[i] = p
	}
	b.topicsMu.Lock()
	b.topics[t.Name] = ts
	b.byID[t.ID] = ts
	b.topicsMu.Unlock()
	return nil
}

// createTopic persists a new topic and opens its partitions. The metadata
// is written first: a crash before the directories exist is finished by New.
func (b *Broker) createTopic(name string, partitions int32, configs map[string]string, validateOnly bool) (meta.Topic, error) {
	if partitions <= 0 {
		partitions = b.cfg.NumPartitions
	}
	t, err := b.meta.CreateTopic(name, partitions, configs, validateOnly)
	if err != nil || validateOnly {
		return t, err
	}
	if err := b.openTopic(t); err != nil {
		b.log.Error("created topic but could not open its partitions", "topic", name, "err", err)
		return t, err
	}
	b.log.Info("topic created", "topic", name, "partitions", partitions, "configs", configs)
	return t, nil
}

// deleteTopic removes a topic from the metadata, then its files. Fetches in
// flight on its partitions finish with an error.
func (b *Broker) deleteTopic(name string) (meta.Topic, error) {
	t, err := b.meta.DeleteTopic(name)
	if err != nil {
		return t, err
	}
	b.topicsMu.Lock()
	delete(b.topics, name)
	delete(b.byID, t.ID)
	b.topicsMu.Unlock()
	if err := b.logs.DeleteTopic(name); err != nil {
		b.log.Error("deleted topic but could not remove all its files", "topic", name, "err", err)
	}
	b.log.Info("topic deleted", "topic", name)
	return t, nil
}

// topic looks a topic up by name.
func (b *Broker) topic(name string) *topicState {
	b.topicsMu.RLock()
	defer b.topicsMu.RUnlock()
	return b.topics[name]
}

// topicByID looks a topic up by id.
func (b *Broker) topicByID(id [16]byte) *topicState {
	b.topicsMu.RLock()
	defer b.topicsMu.RUnlock()
	return b.byID[id]
}

// partition returns the partition log, or nil.
func (ts *topicState) partition(p int32) *klog.Partition {
	if ts == nil || p < 0 || int(p) >= len(ts.parts) {
		return nil
	}
	return ts.parts[p]
}

// allTopics returns a snapshot of the registered topics.
func (b *Broker) allTopics() []*topicState {
	b.topicsMu.RLock()
	defer b.topicsMu.RUnlock()
	out := make([]*topicState, 0, len(b.topics))
	for _, t := range b.topics {
		out = append(out, t)
	}
	return out
}
