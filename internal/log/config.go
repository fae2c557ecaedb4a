package log

import (
	"log/slog"
	"math"
	"time"

	"github.com/chronik-stream/chronik/internal/vfs"
)

// Config holds the per-topic settings that shape a partition's log. Zero
// fields take the defaults of DefaultConfig (except LogAppendTime and
// FlushInterval, whose zero values are meaningful).
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
	// FlushInterval 0 (the default) means the high watermark advances only
	// after an fsync covers the data. A positive interval trades durability
	// for throughput: the HW follows the log end right after the write and
	// the syncer fsyncs every interval.
	FlushInterval time.Duration
}

// Defaults, as in Apache Kafka.
const (
	DefaultSegmentBytes       = 1 << 30
	DefaultSegmentMs          = 7 * 24 * 60 * 60 * 1000
	DefaultIndexIntervalBytes = 4096
	DefaultMaxMessageBytes    = 1048588
)

// DefaultConfig returns Kafka's defaults.
func DefaultConfig() Config {
	return Config{
		SegmentBytes:       DefaultSegmentBytes,
		SegmentMs:          DefaultSegmentMs,
		IndexIntervalBytes: DefaultIndexIntervalBytes,
		MaxMessageBytes:    DefaultMaxMessageBytes,
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
	return c
}

// Options are the process-wide dependencies of a partition.
type Options struct {
	FS     vfs.FS           // nil: vfs.OS
	Logger *slog.Logger     // nil: slog.Default()
	Now    func() time.Time // nil: time.Now
	// OnSync, if set, is called after every fsync of a segment by the group
	// commit syncer with its duration and the bytes it made durable (for
	// metrics). It must be cheap and must not call back into the log.
	OnSync func(d time.Duration, bytes int64)
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
	return o
}
