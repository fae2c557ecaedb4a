package cli

import (
	"math"
	"math/bits"
	"time"
)

// histogram is a log-linear histogram of non-negative values (HdrHistogram's
// layout, simplified): values below 2^histSubBits are counted exactly; above,
// each power of two is split into 2^(histSubBits-1) equal buckets, so a
// bucket's width is at most 1/2^(histSubBits-1) of its values (0.8% with 8
// bits). Memory is fixed (about 60 KiB) whatever the number or range of the
// values. Not safe for concurrent use.
type histogram struct {
	counts [histBuckets]uint64
	n      uint64
	sum    float64
	min    uint64
	max    uint64
}

const (
	histSubBits = 8
	histSub     = 1 << histSubBits // exact values below this
	histHalf    = histSub / 2      // buckets per power of two above it
	histBuckets = histSub + (64-histSubBits)*histHalf
)

// histIndex is the bucket of v.
func histIndex(v uint64) int {
	if v < histSub {
		return int(v)
	}
	shift := bits.Len64(v) - histSubBits // >= 1
	return histSub + (shift-1)*histHalf + int(v>>shift) - histHalf
}

// histHighest is the largest value that falls in bucket i.
func histHighest(i int) uint64 {
	if i < histSub {
		return uint64(i)
	}
	shift := (i-histSub)/histHalf + 1
	sub := uint64((i-histSub)%histHalf + histHalf)
	return (sub+1)<<shift - 1
}

func (h *histogram) record(v uint64) {
	h.counts[histIndex(v)]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
	h.sum += float64(v)
}

func (h *histogram) recordDuration(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.record(uint64(d))
}

// merge adds o's values to h.
func (h *histogram) merge(o *histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
}

// quantile returns the value at quantile q (0..1): the highest value of the
// bucket holding the ceil(q*n)-th smallest value, capped by the largest value
// seen, so it overstates by at most one bucket width.
func (h *histogram) quantile(q float64) uint64 {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(histHighest(i), h.max)
		}
	}
	return h.max
}

func (h *histogram) mean() float64 {
	if h.n == 0 {
		return 0
	}
	return h.sum / float64(h.n)
}
