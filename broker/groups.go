package broker

// Glue between the broker and the group coordinator (internal/group): its
// configuration from the broker configs, its lifetime, and helpers the
// group handlers (08-16, 42, 47) share.
//
// The coordinator is opened lazily on the first group request and kept in
// a table keyed by broker until Broker owns it as a field (see
// closeGroups).

import (
	"context"
	"crypto/sha256"
	"math"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/chronik-stream/chronik/internal/group"
	klog "github.com/chronik-stream/chronik/internal/log"
)

// groupsDir is the coordinator's directory under the data directory. It has
// no "-<n>" suffix, so the log Manager does not take it for a partition.
const groupsDir = "__groups"

var (
	groupsMu sync.Mutex
	// groupsByBroker holds each broker's coordinator; a nil entry means it
	// was closed and must not be opened again.
	groupsByBroker = map[*Broker]*group.Coordinator{}
)

// offsetsTopic is the group coordinator's internal topic as Metadata shows
// it: one partition, the offsets log (internal/group), led by this node.
// Kafka creates it with offsets.topic.num.partitions (50) partitions on the
// first FindCoordinator; ours is one log, so one partition is what exists.
const (
	offsetsTopic           = "__consumer_offsets"
	offsetsTopicPartitions = 1
)

// offsetsTopicExists reports whether the offsets topic exists, as Kafka's
// does once a group coordinator was looked up: the coordinator is open, or
// a previous run left its directory.
func (b *Broker) offsetsTopicExists() bool {
	groupsMu.Lock()
	c, opened := groupsByBroker[b]
	groupsMu.Unlock()
	if opened && c != nil {
		return true
	}
	_, isDir, err := b.cfg.FS.Stat(filepath.Join(b.cfg.DataDir, groupsDir))
	return err == nil && isDir
}

// offsetsTopicID is the offsets topic's id: derived from the cluster id, so
// it is stable across restarts without being stored, and never zero.
func (b *Broker) offsetsTopicID() [16]byte {
	sum := sha256.Sum256([]byte(b.meta.ClusterID() + "/" + offsetsTopic))
	var id [16]byte
	copy(id[:], sum[:16])
	id[6] = id[6]&0x0f | 0x40 // a version 4 UUID, as Kafka's random ones
	id[8] = id[8]&0x3f | 0x80
	return id
}

// groupTopicID is a topic's id for the group coordinator's answers, the
// offsets topic's included (a KIP-848 regex may match it); false if no
// such topic.
func (b *Broker) groupTopicID(name string) ([16]byte, bool) {
	if ts := b.topic(name); ts != nil {
		return ts.meta.ID, true
	}
	if name == offsetsTopic && b.offsetsTopicExists() {
		return b.offsetsTopicID(), true
	}
	return [16]byte{}, false
}

// groupTopicName is the inverse of groupTopicID.
func (b *Broker) groupTopicName(id [16]byte) (string, bool) {
	if ts := b.topicByID(id); ts != nil {
		return ts.meta.Name, true
	}
	if id == b.offsetsTopicID() && b.topic(offsetsTopic) == nil && b.offsetsTopicExists() {
		return offsetsTopic, true
	}
	return "", false
}

// groups returns the broker's group coordinator, opening it on first use;
// nil when the broker is closed or the coordinator cannot be opened
// (requests then get COORDINATOR_NOT_AVAILABLE).
func (b *Broker) groups() *group.Coordinator {
	groupsMu.Lock()
	defer groupsMu.Unlock()
	if c, ok := groupsByBroker[b]; ok || b.closed.Load() {
		return c
	}
	c, err := group.Open(b.groupConfig())
	if err != nil {
		b.log.Error("could not open the group coordinator", "err", err)
		return nil
	}
	groupsByBroker[b] = c
	// Opened lazily, by a request: give the load a moment, so the first
	// requests do not all get COORDINATOR_LOAD_IN_PROGRESS. (Opened in New,
	// the load overlaps the start-up instead.)
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
	defer cancel()
	c.WaitLoaded(ctx)
	return c
}

// closeGroups closes the coordinator for good: waiting JoinGroup and
// SyncGroup requests are answered NOT_COORDINATOR, later group requests
// COORDINATOR_NOT_AVAILABLE, and the offsets log is synced and closed.
// Close should call it right after it stops reading requests, before it
// waits for the connections to drain (parked joins would hold them).
func (b *Broker) closeGroups() error {
	groupsMu.Lock()
	c := groupsByBroker[b]
	groupsByBroker[b] = nil
	groupsMu.Unlock()
	if c == nil {
		return nil
	}
	return c.Close()
}

// groupConfig maps the broker's group and offsets configs (Kafka's names
// and defaults) onto the coordinator's.
func (b *Broker) groupConfig() group.Config {
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
	ms := func(name string, def int64) time.Duration { return time.Duration(num(name, def)) * time.Millisecond }
	cfg := group.Config{
		Dir:                    filepath.Join(b.cfg.DataDir, groupsDir),
		FS:                     b.cfg.FS,
		Logger:                 b.log.With("component", "group_coordinator"),
		InitialRebalanceDelay:  ms("group.initial.rebalance.delay.ms", 3000),
		MinSessionTimeout:      ms("group.min.session.timeout.ms", 6000),
		MaxSessionTimeout:      ms("group.max.session.timeout.ms", 1800000),
		MaxGroupSize:           int(min(num("group.max.size", math.MaxInt32), math.MaxInt32)),
		OffsetMetadataMaxBytes: int(min(num("offset.metadata.max.bytes", 4096), math.MaxInt32)),
		OffsetsRetention:       time.Duration(num("offsets.retention.minutes", 10080)) * time.Minute,
		RetentionCheckInterval: ms("offsets.retention.check.interval.ms", 600000),
		Log: klog.Config{
			SegmentBytes:  num("offsets.topic.segment.bytes", 100<<20),
			FlushInterval: b.cfg.FsyncInterval,
		},
		ConsumerSessionTimeout:    ms("group.consumer.session.timeout.ms", 45000),
		ConsumerHeartbeatInterval: ms("group.consumer.heartbeat.interval.ms", 5000),
		// The offsets topic exists while the coordinator does (these are
		// only called by it), as Metadata shows it; Kafka's server-side
		// regular expressions (KIP-848) match internal topics too.
		PartitionCount: func(topic string) int32 {
			if ts := b.topic(topic); ts != nil {
				return int32(len(ts.parts))
			}
			if topic == offsetsTopic {
				return offsetsTopicPartitions
			}
			return 0
		},
		TopicNames: func() []string {
			ts := b.allTopics()
			out := make([]string, 0, len(ts)+1)
			offsets := true
			for _, t := range ts {
				out = append(out, t.meta.Name)
				offsets = offsets && t.meta.Name != offsetsTopic
			}
			if offsets {
				out = append(out, offsetsTopic)
			}
			return out
		},
		PartitionExists: func(topic string, partition int32) bool {
			if ts := b.topic(topic); ts != nil || topic != offsetsTopic {
				return ts.partition(partition) != nil
			}
			return partition >= 0 && partition < offsetsTopicPartitions
		},
	}
	if cfg.InitialRebalanceDelay == 0 {
		cfg.InitialRebalanceDelay = -1 // an explicit 0: no delay
	}
	return cfg
}

// coordinator returns the group coordinator, or the error to answer with.
func (b *Broker) coordinator() (*group.Coordinator, error) {
	if c := b.groups(); c != nil {
		return c, nil
	}
	return nil, kerr.CoordinatorNotAvailable
}

// awaitGroup waits for a coordinator answer. It runs in a request's wait,
// on the connection's writer, so the reader keeps going; it gives up when
// the broker shuts down.
func awaitGroup[T any](b *Broker, ch <-chan T) (T, error) {
	select {
	case v := <-ch:
		return v, nil
	case <-b.ctx.Done():
		var zero T
		return zero, kerr.NotCoordinator
	}
}

// clientHost is the member's host as Kafka reports it: "/<ip>".
func (c *conn) clientHost() string {
	host, _, err := net.SplitHostPort(c.nc.RemoteAddr().String())
	if err != nil {
		host = c.nc.RemoteAddr().String()
	}
	return "/" + host
}

func (r *request) clientIDString() string {
	if r.clientID == nil {
		return ""
	}
	return *r.clientID
}

func msDuration(ms int32) time.Duration { return time.Duration(ms) * time.Millisecond }

func msDuration64(ms int64) time.Duration { return time.Duration(ms) * time.Millisecond }
