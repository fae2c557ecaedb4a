package broker

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	klog "github.com/chronik-stream/chronik/internal/log"
	"github.com/chronik-stream/chronik/internal/meta"
	"github.com/chronik-stream/chronik/internal/records"
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
	c.TimestampBeforeMaxMs = lc.MessageTimestampBeforeMaxMs
	c.TimestampAfterMaxMs = lc.MessageTimestampAfterMaxMs
	c.FlushInterval = b.cfg.FsyncInterval
	c.Preallocate = lc.Preallocate
	c.Delete, c.Compact = lc.Delete, lc.Compact
	c.RetentionMs, c.RetentionBytes = lc.RetentionMs, lc.RetentionBytes
	c.FileDeleteDelayMs = lc.FileDeleteDelayMs
	c.DeleteRetentionMs = lc.DeleteRetentionMs
	c.MinCompactionLagMs, c.MaxCompactionLagMs = lc.MinCompactionLagMs, lc.MaxCompactionLagMs
	c.MinCleanableDirtyRatio = lc.MinCleanableDirtyRatio
	return c
}

// logOptions maps the broker configs of the log Manager's background work
// (retention checks and the cleaner), with Kafka's names and defaults.
func (b *Broker) logOptions() klog.Options {
	bc := b.cfg.BrokerConfigs
	num := func(name string, def int64) int64 {
		s, ok := bc[name]
		if !ok {
			return def
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v < 0 {
			b.log.Warn("ignoring an invalid broker config", "name", name, "value", s)
			return def
		}
		return v
	}
	return klog.Options{
		FS:                     b.cfg.FS,
		Logger:                 b.log,
		OnSync:                 b.metrics.synced,
		CacheTail:              b.cfg.PageCacheTail,
		RetentionCheckInterval: time.Duration(num("log.retention.check.interval.ms", 300000)) * time.Millisecond,
		CleanerBackoff:         time.Duration(num("log.cleaner.backoff.ms", 15000)) * time.Millisecond,
		CleanerBufferSize:      num("log.cleaner.dedupe.buffer.size", klog.DefaultCleanerBufferSize),
		DisableCleaner:         strings.EqualFold(bc["log.cleaner.enable"], "false"),
		ProducerIDExpiration:   time.Duration(num("producer.id.expiration.ms", 86400000)) * time.Millisecond,
	}
}

// conversion is what the produce and fetch paths need from a topic's
// configs, resolved once per published topicState.
type conversion struct {
	// codec is compression.type: records.CodecProducer keeps the
	// producer's batches as they are; any other codec recompresses batches
	// in another codec on append (Kafka's LogValidator).
	codec records.Codec
	level int // compression.<codec>.level; -1 the codec's default
	// downConvert is message.downconversion.enable: false refuses Fetch
	// v0-v3 (UNSUPPORTED_VERSION), as Kafka 3 did.
	downConvert bool
}

// conversionFor resolves t's conversion settings against the broker's.
func conversionFor(t meta.Topic, bc meta.BrokerConfigs) conversion {
	lc := meta.EffectiveLogConfig(t, bc)
	c := conversion{codec: records.CodecProducer, level: -1, downConvert: true}
	switch lc.CompressionType {
	case "uncompressed":
		c.codec = records.CodecNone
	case "gzip":
		c.codec, c.level = records.CodecGzip, int(lc.GzipLevel)
	case "snappy":
		c.codec = records.CodecSnappy
	case "lz4":
		c.codec, c.level = records.CodecLZ4, int(lc.Lz4Level)
	case "zstd":
		c.codec, c.level = records.CodecZstd, int(lc.ZstdLevel)
	}
	// Accepted but, as in Kafka 4.1, not described: read it directly.
	v, ok := t.Configs["message.downconversion.enable"]
	if !ok {
		v = bc["log.message.downconversion.enable"]
	}
	c.downConvert = !strings.EqualFold(v, "false")
	return c
}

// openTopic opens (creating where missing) every partition of t and
// registers it.
func (b *Broker) openTopic(t meta.Topic) error {
	bc := b.brokerConfigs()
	cfg := b.logConfig(t, bc)
	ts := &topicState{meta: t, parts: make([]*klog.Partition, t.Partitions), conv: conversionFor(t, bc)}
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
	if name == offsetsTopic {
		// The group coordinator's internal topic (groups.go) exists once a
		// coordinator is looked up: creating it is that lookup.
		b.groups()
		return meta.Topic{}, fmt.Errorf("%w: Topic '%s' already exists.", meta.ErrTopicExists, name)
	}
	if partitions <= 0 {
		partitions = b.cfg.NumPartitions
	}
	b.topicMu.Lock()
	defer b.topicMu.Unlock()
	t, err := b.meta.CreateTopic(name, partitions, configs, validateOnly)
	if err != nil || validateOnly {
		return t, err
	}
	if err := b.openTopic(t); err != nil {
		// Roll back, so that neither this broker nor its next start is
		// left with a topic whose partitions cannot be opened (e.g. out of
		// file descriptors).
		b.log.Error("created topic but could not open its partitions; removing it", "topic", name, "err", err)
		if _, derr := b.meta.DeleteTopic(name); derr != nil {
			b.log.Error("could not remove the half-created topic from the metadata", "topic", name, "err", derr)
		}
		if derr := b.logs.DeleteTopic(name); derr != nil {
			b.log.Error("could not remove the half-created topic's files", "topic", name, "err", derr)
		}
		return t, err
	}
	b.log.Info("topic created", "topic", name, "partitions", partitions, "configs", configs)
	return t, nil
}

// deleteTopic removes a topic from the metadata, then its files. Fetches in
// flight on its partitions finish with an error.
func (b *Broker) deleteTopic(name string) (meta.Topic, error) {
	b.topicMu.Lock()
	defer b.topicMu.Unlock()
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
	// As Kafka, a deleted topic's committed offsets go with it.
	if c := b.groups(); c != nil {
		c.DeleteTopicOffsets(name)
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
