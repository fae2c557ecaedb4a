package group

import (
	"log/slog"
	"math"
	"time"

	klog "github.com/chronik-stream/chronik/internal/log"
	"github.com/chronik-stream/chronik/internal/vfs"
)

// Config configures a Coordinator. Zero durations and sizes take Kafka's
// defaults (DefaultConfig); the broker fills them from its broker configs.
type Config struct {
	// Dir holds the offsets log (Dir/offsets). Required.
	Dir string
	// FS is the filesystem seam; nil is the OS.
	FS vfs.FS
	// Logger receives the coordinator's logs; nil is slog.Default().
	Logger *slog.Logger
	// Clock drives every timer; nil is the real clock. Tests use a fake.
	Clock Clock

	// InitialRebalanceDelay is group.initial.rebalance.delay.ms: how long a
	// group leaving Empty waits for more members (default 3s). Negative
	// means no delay (zero takes the default).
	InitialRebalanceDelay time.Duration
	// MinSessionTimeout and MaxSessionTimeout are
	// group.{min,max}.session.timeout.ms (6s and 30 min).
	MinSessionTimeout, MaxSessionTimeout time.Duration
	// MaxGroupSize is group.max.size (default unlimited).
	MaxGroupSize int
	// OffsetMetadataMaxBytes is offset.metadata.max.bytes (4096).
	OffsetMetadataMaxBytes int
	// OffsetsRetention is offsets.retention.minutes (7 days).
	OffsetsRetention time.Duration
	// RetentionCheckInterval is offsets.retention.check.interval.ms
	// (10 min): how often expired offsets are looked for.
	RetentionCheckInterval time.Duration
	// CompactMinRecords and CompactRatio decide when opening rewrites the
	// log: when it holds more than CompactMinRecords records and more than
	// CompactRatio times as many as there are live keys (10000 and 4).
	CompactMinRecords int64
	CompactRatio      int64

	// Log is the offsets log's config (segment size, max batch size,
	// flush interval); zero fields take Kafka's defaults for
	// __consumer_offsets (100 MiB segments).
	Log klog.Config

	// ConsumerSessionTimeout and ConsumerHeartbeatInterval are
	// group.consumer.{session.timeout,heartbeat.interval}.ms (45s, 5s), for
	// KIP-848 consumer groups.
	ConsumerSessionTimeout, ConsumerHeartbeatInterval time.Duration
	// PartitionCount is a topic's partition count (0: no such topic), and
	// TopicNames every topic, for consumer groups' subscriptions.
	PartitionCount func(topic string) int32
	TopicNames     func() []string

	// PartitionExists reports whether a topic partition exists; commits to
	// others fail with UNKNOWN_TOPIC_OR_PARTITION. Nil accepts everything.
	PartitionExists func(topic string, partition int32) bool
}

// Kafka's defaults.
const (
	DefaultInitialRebalanceDelay     = 3 * time.Second
	DefaultMinSessionTimeout         = 6 * time.Second
	DefaultMaxSessionTimeout         = 30 * time.Minute
	DefaultOffsetMetadataMaxBytes    = 4096
	DefaultOffsetsRetention          = 7 * 24 * time.Hour
	DefaultRetentionCheckInterval    = 10 * time.Minute
	DefaultCompactMinRecords         = 10000
	DefaultCompactRatio              = 4
	DefaultConsumerSessionTimeout    = 45 * time.Second
	DefaultConsumerHeartbeatInterval = 5 * time.Second
	// offsetsSegmentBytes is offsets.topic.segment.bytes.
	offsetsSegmentBytes = 100 << 20
	// newMemberJoinTimeout bounds how long a new member's first JoinGroup
	// may wait in a rebalance (Kafka's NewMemberJoinTimeoutMs): it cannot
	// heartbeat yet, and a client that gave up would otherwise linger.
	newMemberJoinTimeout = 5 * time.Minute
)

func (c Config) withDefaults() Config {
	if c.FS == nil {
		c.FS = vfs.OS
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Clock == nil {
		c.Clock = realClock{}
	}
	switch {
	case c.InitialRebalanceDelay == 0:
		c.InitialRebalanceDelay = DefaultInitialRebalanceDelay
	case c.InitialRebalanceDelay < 0:
		c.InitialRebalanceDelay = 0
	}
	if c.MinSessionTimeout <= 0 {
		c.MinSessionTimeout = DefaultMinSessionTimeout
	}
	if c.MaxSessionTimeout <= 0 {
		c.MaxSessionTimeout = DefaultMaxSessionTimeout
	}
	if c.ConsumerSessionTimeout <= 0 {
		c.ConsumerSessionTimeout = DefaultConsumerSessionTimeout
	}
	if c.ConsumerHeartbeatInterval <= 0 {
		c.ConsumerHeartbeatInterval = DefaultConsumerHeartbeatInterval
	}
	if c.MaxGroupSize <= 0 {
		c.MaxGroupSize = math.MaxInt32
	}
	if c.OffsetMetadataMaxBytes <= 0 {
		c.OffsetMetadataMaxBytes = DefaultOffsetMetadataMaxBytes
	}
	if c.OffsetsRetention <= 0 {
		c.OffsetsRetention = DefaultOffsetsRetention
	}
	if c.RetentionCheckInterval <= 0 {
		c.RetentionCheckInterval = DefaultRetentionCheckInterval
	}
	if c.CompactMinRecords <= 0 {
		c.CompactMinRecords = DefaultCompactMinRecords
	}
	if c.CompactRatio <= 0 {
		c.CompactRatio = DefaultCompactRatio
	}
	if c.Log.SegmentBytes <= 0 {
		c.Log.SegmentBytes = offsetsSegmentBytes
	}
	if c.Log.MaxMessageBytes <= 0 {
		c.Log.MaxMessageBytes = klog.DefaultMaxMessageBytes
	}
	return c
}

// Clock is the source of time and timers.
type Clock interface {
	Now() time.Time
	// AfterFunc runs f in its own goroutine after d.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a timer from a Clock.
type Timer interface {
	// Stop prevents the timer from firing; it reports whether it did.
	Stop() bool
}

type realClock struct{}

func (realClock) Now() time.Time                            { return time.Now() }
func (realClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
