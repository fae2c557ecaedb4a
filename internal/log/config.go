package log

import (
	"log/slog"
	"math"
	"time"

	"github.com/chronik-stream/chronik/internal/vfs"
)

// Config holds the per-topic settings that shape a partition's log. Zero
// fields take the defaults of DefaultConfig, except LogAppendTime,
// FlushInterval and the cleanup fields (Delete, Compact and the settings
// after them), whose zero values are meaningful: the zero Config keeps
// every segment forever.
type Config struct {
	// SegmentBytes is segment.bytes: we roll when the next append would
	// make the active segment larger. Default 1 GiB, at most 2 GiB-1
	// (index positions are 32-bit).
	SegmentBytes int64
	// SegmentMs is segment.ms: we roll when the active segment's first batch
	// was appended longer ago. Default 7 days.
	SegmentMs int64
	// IndexIntervalBytes is index.interval.bytes: bytes between offset index
	// entries. Default 4096.
	IndexIntervalBytes int
	// MaxMessageBytes is max.message.bytes: a larger batch is refused with
	// ErrMessageTooLarge. Default 1048588.
	MaxMessageBytes int
	// LogAppendTime is message.timestamp.type=LogAppendTime: each batch gets
	// the broker's clock as its max timestamp (and a recomputed CRC).
	LogAppendTime bool
	// TimestampBeforeMaxMs and TimestampAfterMaxMs are
	// message.timestamp.before.max.ms and message.timestamp.after.max.ms:
	// with CreateTime, a record timestamped further than this before or
	// after the broker's clock is refused (ErrInvalidTimestamp). Zero or
	// negative: no bound on that side.
	TimestampBeforeMaxMs, TimestampAfterMaxMs int64
	// FlushInterval 0 (the default) means the high watermark advances only
	// after an fsync covers the data. A positive interval trades durability
	// for throughput: the HW follows the log end right after the write and
	// the syncer fsyncs every interval.
	FlushInterval time.Duration
	// Preallocate is preallocate: reserve the disk blocks of segment.bytes
	// when a segment takes its first append, instead of a little ahead of
	// the appends (reserve.go).
	Preallocate bool

	// Delete and Compact are cleanup.policy: "delete" (retention.go) drops
	// whole closed segments past the retention limits; "compact"
	// (cleaner.go) keeps the latest record of each key. Both may be set;
	// with neither, segments are only removed below a DeleteRecordsBefore.
	Delete, Compact bool
	// RetentionMs is retention.ms: with Delete, a closed segment whose
	// largest timestamp is older is deleted. Negative: no limit.
	RetentionMs int64
	// RetentionBytes is retention.bytes: with Delete, the oldest closed
	// segments are deleted while the partition stays at least this large
	// without them. Negative: no limit.
	RetentionBytes int64
	// FileDeleteDelayMs is file.delete.delay.ms: a deleted or replaced
	// segment's files are renamed to ".deleted" at once and removed (and
	// their handles closed) this much later, so reads in flight finish.
	FileDeleteDelayMs int64
	// DeleteRetentionMs is delete.retention.ms: with Compact, how long a
	// tombstone stays after the cleaner first kept it as its key's latest
	// record (Kafka's delete horizon).
	DeleteRetentionMs int64
	// MinCompactionLagMs is min.compaction.lag.ms: segments holding a
	// record younger than this are not compacted.
	MinCompactionLagMs int64
	// MaxCompactionLagMs is max.compaction.lag.ms: a log whose oldest
	// uncompacted record is older than this is compacted whatever its
	// dirty ratio, and the active segment rolls at least this often. Zero
	// or negative: no limit.
	MaxCompactionLagMs int64
	// MinCleanableDirtyRatio is min.cleanable.dirty.ratio: the share of
	// the log's bytes not yet compacted above which the cleaner runs.
	MinCleanableDirtyRatio float64
}

// Defaults, as in Apache Kafka.
const (
	DefaultSegmentBytes       = 1 << 30
	DefaultSegmentMs          = 7 * 24 * 60 * 60 * 1000
	DefaultIndexIntervalBytes = 4096
	DefaultMaxMessageBytes    = 1048588
	DefaultRetentionMs        = 7 * 24 * 60 * 60 * 1000
	DefaultFileDeleteDelayMs  = 60000
	DefaultDeleteRetentionMs  = 24 * 60 * 60 * 1000
	DefaultMinCleanableRatio  = 0.5
)

// DefaultConfig returns Kafka's defaults.
func DefaultConfig() Config {
	return Config{
		SegmentBytes:       DefaultSegmentBytes,
		SegmentMs:          DefaultSegmentMs,
		IndexIntervalBytes: DefaultIndexIntervalBytes,
		MaxMessageBytes:    DefaultMaxMessageBytes,

		Delete:                 true,
		RetentionMs:            DefaultRetentionMs,
		RetentionBytes:         -1,
		FileDeleteDelayMs:      DefaultFileDeleteDelayMs,
		DeleteRetentionMs:      DefaultDeleteRetentionMs,
		MaxCompactionLagMs:     math.MaxInt64,
		MinCleanableDirtyRatio: DefaultMinCleanableRatio,
	}
}

// normalize fills zero fields with defaults and clamps values the on-disk
// format cannot represent.
func (c Config) normalize() Config {
	if c.SegmentBytes <= 0 {
		c.SegmentBytes = DefaultSegmentBytes
	}
	if c.SegmentBytes > math.MaxInt32 {
		c.SegmentBytes = math.MaxInt32
	}
	if c.SegmentMs <= 0 {
		c.SegmentMs = DefaultSegmentMs
	}
	if c.IndexIntervalBytes <= 0 {
		c.IndexIntervalBytes = DefaultIndexIntervalBytes
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if c.FlushInterval < 0 {
		c.FlushInterval = 0
	}
	c.FileDeleteDelayMs = max(c.FileDeleteDelayMs, 0)
	c.DeleteRetentionMs = max(c.DeleteRetentionMs, 0)
	c.MinCompactionLagMs = max(c.MinCompactionLagMs, 0)
	if c.MaxCompactionLagMs <= 0 {
		c.MaxCompactionLagMs = math.MaxInt64
	}
	return c
}

// rollMs is how old the active segment may get before it rolls: segment.ms,
// or for a compacted topic max.compaction.lag.ms if smaller, so that old
// records leave the active segment, which is never compacted (Kafka's
// LogConfig.maxSegmentMs).
func (c *Config) rollMs() int64 {
	if c.Compact && c.MaxCompactionLagMs < c.SegmentMs {
		return c.MaxCompactionLagMs
	}
	return c.SegmentMs
}

// Defaults of the Manager's background work, as in Apache Kafka.
const (
	DefaultRetentionCheckInterval = 5 * time.Minute
	DefaultCleanerBackoff         = 15 * time.Second
	DefaultCleanerBufferSize      = 128 << 20
)

// Options are the process-wide dependencies of a partition.
type Options struct {
	FS     vfs.FS           // nil: vfs.OS
	Logger *slog.Logger     // nil: slog.Default()
	Now    func() time.Time // nil: time.Now
	// OnSync, if set, is called after every fsync of a segment by the group
	// commit syncer with its duration and the bytes it made durable (for
	// metrics). It must be cheap and must not call back into the log.
	OnSync func(d time.Duration, bytes int64)
	// CacheTail is how many bytes at the end of the active segment stay
	// in the page cache once synced; older synced bytes are dropped from
	// it (drop-behind, syncer.go). 0 drops nothing: the kernel decides,
	// as with Kafka.
	CacheTail int64

	// The rest concerns a Manager's background work (retention.go,
	// cleaner.go); a partition opened alone runs none of it.

	// RetentionCheckInterval is log.retention.check.interval.ms: how often
	// the Manager applies retention to every partition. Default 5 minutes.
	RetentionCheckInterval time.Duration
	// CleanerBackoff is log.cleaner.backoff.ms: how long the cleaner sleeps
	// when no log needs compacting. Default 15 s.
	CleanerBackoff time.Duration
	// CleanerBufferSize is log.cleaner.dedupe.buffer.size: the most memory
	// the cleaner's key -> offset map may use (24 bytes an entry). Default
	// 128 MiB. A smaller buffer only makes cleaning take more passes.
	CleanerBufferSize int64
	// DisableCleaner is log.cleaner.enable=false: compacted topics are
	// not compacted.
	DisableCleaner bool
	// ProducerIDExpiration is producer.id.expiration.ms: the Manager
	// forgets a producer's idempotence state once it has been idle that
	// long (Partition.ExpireProducers). 0 keeps producers forever.
	ProducerIDExpiration time.Duration
	// ProducerIDExpirationCheck is how often it looks (Kafka's
	// producer.id.expiration.check.interval.ms). Default 10 minutes.
	ProducerIDExpirationCheck time.Duration
}

func (o Options) withDefaults() Options {
	if o.FS == nil {
		o.FS = vfs.OS
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.RetentionCheckInterval <= 0 {
		o.RetentionCheckInterval = DefaultRetentionCheckInterval
	}
	if o.CleanerBackoff <= 0 {
		o.CleanerBackoff = DefaultCleanerBackoff
	}
	if o.CleanerBufferSize <= 0 {
		o.CleanerBufferSize = DefaultCleanerBufferSize
	}
	if o.ProducerIDExpirationCheck <= 0 {
		o.ProducerIDExpirationCheck = 10 * time.Minute
	}
	return o
}
