package log

import (
	"fmt"
	"math"

	"github.com/chronik-stream/chronik/internal/records"
)

// checkTimestamps applies message.timestamp.before.max.ms and
// message.timestamp.after.max.ms to a CreateTime batch, as Kafka's
// LogValidator does for every record. The batch header bounds the common
// case: its max timestamp decides the upper bound, and only a batch that
// may break a bound has its records walked to name the offenders.
func checkTimestamps(cfg *Config, h records.Header, batch []byte, now int64) error {
	after, before := cfg.TimestampAfterMaxMs, cfg.TimestampBeforeMaxMs
	hi, lo := int64(math.MaxInt64), int64(math.MinInt64)
	if after > 0 && now <= math.MaxInt64-after {
		hi = now + after
	}
	if before > 0 && now >= math.MinInt64+before {
		lo = now - before
	}
	// Records carry base timestamp + delta; the header's max timestamp is
	// their maximum. The minimum needs the records unless the base itself
	// is comfortably inside (deltas are almost always >= 0, but a walk is
	// the only proof, so we walk whenever a lower bound is set and the base
	// is not far from it).
	needWalk := h.MaxTimestamp > hi || (lo != math.MinInt64 && h.BaseTimestamp-lo < 24*3600*1000)
	if !needWalk {
		return nil
	}
	var bad []int32
	var first int64
	idx := int32(0)
	_, err := records.Iterate(batch, 0, func(r *records.Record) error {
		ts := h.BaseTimestamp + r.TimestampDelta
		if ts != -1 && (ts > hi || ts < lo) {
			if len(bad) == 0 {
				first = ts
			}
			bad = append(bad, idx)
		}
		idx++
		return nil
	})
	if err != nil {
		return err
	}
	if len(bad) == 0 {
		return nil
	}
	return &TimestampError{
		Indexes: bad,
		Msg: fmt.Sprintf("Timestamp %d of message with offset %d is out of range. The timestamp should be within [%d, %d]",
			first, bad[0], lo, hi),
	}
}
