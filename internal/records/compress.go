package records

// Compression of the record section of a batch.
//
// The wire formats are the ones Apache Kafka and the common clients use for
// magic 2 batches:
//
//   - gzip: RFC 1952 members (Java's GZIPOutputStream). Like Java's
//     GZIPInputStream, concatenated members are read and bytes after the last
//     member that do not start another member are ignored.
//   - snappy: Java (snappy-java) and librdkafka write the xerial framing:
//     the 16-byte header "\x82SNAPPY\x00", version 1, compatible version 1,
//     then blocks of [4-byte big-endian length][raw snappy block], each of at
//     most 32 KiB uncompressed. Some Go clients write one raw snappy block;
//     both are read. Blocks are decoded strictly (standard snappy, not the s2
//     extensions the Java decoder would refuse).
//   - lz4: the standard LZ4 frame (Kafka's KafkaLZ4BlockOutputStream for
//     magic >= 1). Compress writes 64 KiB independent blocks without a content
//     checksum, as Kafka does; the batch CRC already covers the data.
//   - zstd: RFC 8878 frames. Windows larger than 128 MiB are refused, as
//     zstd-jni (the Java consumer) refuses them.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// DefaultDecompressLimit bounds the decompressed record section of one batch
// when the caller gives no limit.
//
// Kafka bounds only the compressed size of a batch (message.max.bytes,
// about 1 MiB by default and rarely above a few tens of MiB), while the
// decompressed size is whatever the producer's codec makes of it: gzip
// reaches about 1000:1, lz4 255:1 and zstd and snappy-of-snappy far more.
// Real record data compresses well under 100:1, but a bound that low would
// refuse legitimate, highly repetitive batches that Kafka accepts. 256 MiB
// leaves room for a maximal batch of such data, stays far below Java's
// 2 GiB array limit (so whatever we accept a Java consumer can hold), and
// keeps a bomb from costing more than a bounded, short-lived buffer per
// request in flight.
const DefaultDecompressLimit = 256 << 20

// ErrDecompressLimit is returned (wrapping ErrCorrupt) when a batch claims or
// produces more decompressed bytes than the limit allows.
var ErrDecompressLimit = fmt.Errorf("%w: decompressed size exceeds limit", ErrCorrupt)

// Format constants.
const (
	xerialBlockSize = 32 << 10
	zstdMaxBlock    = 128 << 10 // a zstd block never decodes to more
	zstdMaxWindow   = 1 << 27   // zstd-jni's default window limit
	gzipMaxRatio    = 1032      // deflate cannot expand more than this
	lz4MaxRatio     = 255
	snappyMaxRatio  = 22
)

var xerialHeader = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1}

// Decompress returns the uncompressed record section of a batch with codec
// c. Uncompressed input (CodecNone) is returned as is.
//
// It never holds more than limit bytes of output: a batch that claims more
// (a zstd or lz4 frame content size, a snappy block length, zstd raw and
// RLE blocks) is refused before anything is allocated, and one that
// produces more is cut off as it crosses the limit, with ErrDecompressLimit
// (an ErrCorrupt). The zstd decoder notices the overrun only after
// appending the block (at most 128 KiB) that crosses the limit, an append
// which may briefly grow its buffer to about twice the limit before it is
// dropped. Below the limit, claims are not trusted either: buffers start
// from what the input can physically expand to and grow as output appears,
// so garbage costs about what it decodes to, not what it claims. limit <= 0
// means DefaultDecompressLimit.
//
// Every other failure is an ErrCorrupt as well, including empty input and an
// unknown codec.
func Decompress(c Codec, compressed []byte, limit int) ([]byte, error) {
	if c == CodecNone {
		return compressed, nil
	}
	if limit <= 0 {
		limit = DefaultDecompressLimit
	}
	if c < CodecNone || c > CodecZstd {
		return nil, fmt.Errorf("%w: unknown compression codec %d", ErrCorrupt, int8(c))
	}
	if len(compressed) == 0 {
		return nil, fmt.Errorf("%w: empty %s data", ErrCorrupt, c)
	}
	var out []byte
	var err error
	switch c {
	case CodecGzip:
		out, err = gunzip(compressed, limit)
	case CodecSnappy:
		out, err = unsnappy(compressed, limit)
	case CodecLZ4:
		out, err = unlz4(compressed, limit)
	case CodecZstd:
		out, err = unzstd(compressed, limit)
	}
	if err != nil {
		if errors.Is(err, ErrCorrupt) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, c, err)
	}
	if len(out) > limit { // cannot happen; the codecs bound themselves
		return nil, ErrDecompressLimit
	}
	return out, nil
}

// Compress compresses the record section raw with codec c. level -1 is the
// codec's default; otherwise it must lie in Kafka's range for the codec:
// compression.gzip.level 1..9, compression.lz4.level 1..17 and
// compression.zstd.level -131072..22. Snappy has no levels and ignores it.
//
// Level mapping: gzip levels are deflate's. lz4 -1 is the fast compressor
// (what librdkafka and franz-go use by default; Kafka's default 9 is the
// much slower HC level 9), 1..17 are HC levels, capped at 9 by the encoder.
// zstd -1 and 0 (zstd's own "default") are Kafka's default 3; levels fall
// into the encoder's four speeds (< 3 fastest, 3..5 default, 6..9 better,
// >= 10 best).
//
// CodecNone returns raw as is.
func Compress(c Codec, raw []byte, level int) ([]byte, error) {
	if c == CodecNone {
		return raw, nil
	}
	var dst []byte
	if c != CodecSnappy { // appendXerial sizes its buffer exactly
		// Records compress about 3:1; appending grows the guess if need be.
		dst = make([]byte, 0, len(raw)/3+64)
	}
	return appendCompressed(dst, c, raw, level)
}

// appendCompressed appends raw compressed with c to dst.
func appendCompressed(dst []byte, c Codec, raw []byte, level int) ([]byte, error) {
	switch c {
	case CodecNone:
		return append(dst, raw...), nil
	case CodecGzip:
		return appendGzip(dst, raw, level)
	case CodecSnappy:
		return appendXerial(dst, raw), nil
	case CodecLZ4:
		return appendLZ4(dst, raw, level)
	case CodecZstd:
		return appendZstd(dst, raw, level)
	}
	return nil, fmt.Errorf("records: unknown compression codec %d", int8(c))
}

// appendWriter is an io.Writer appending to a slice.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// readBounded appends everything r yields to dst, growing it to at most
// limit bytes; more is ErrDecompressLimit. The first buffer holds hint bytes
// (bounded by limit).
func readBounded(r io.Reader, dst []byte, hint, limit int) ([]byte, error) {
	if cap(dst) == 0 {
		dst = make([]byte, 0, min(max(hint, 64), limit))
	}
	for {
		if len(dst) == cap(dst) {
			if len(dst) >= limit {
				// Full: any further byte is one too many.
				var probe [1]byte
				for {
					n, err := r.Read(probe[:])
					if n > 0 {
						return nil, ErrDecompressLimit
					}
					if err == io.EOF {
						return dst, nil
					}
					if err != nil {
						return nil, err
					}
				}
			}
			grown := make([]byte, len(dst), min(max(2*cap(dst), 64<<10), limit))
			copy(grown, dst)
			dst = grown
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// ---- gzip ----

type gzipDecoder struct {
	zr  gzip.Reader
	src bytes.Reader
}

var gzipDecoders = sync.Pool{New: func() any { return new(gzipDecoder) }}

// gzipLevels pools writers by level: index level+1, for -1 and 1..9.
var gzipLevels [11]sync.Pool

func gunzip(src []byte, limit int) ([]byte, error) {
	d := gzipDecoders.Get().(*gzipDecoder)
	defer func() {
		d.src.Reset(nil)
		gzipDecoders.Put(d)
	}()
	// ISIZE, the last four bytes, is the size of a single member mod 2^32;
	// use it as the first buffer size, bounded by what deflate can
	// physically produce from this input.
	hint := 4 * len(src)
	if len(src) >= 18 {
		isize := int64(binary.LittleEndian.Uint32(src[len(src)-4:]))
		hint = int(min(isize, int64(len(src))*gzipMaxRatio))
	}
	d.src.Reset(src)
	var out []byte
	for {
		if err := d.zr.Reset(&d.src); err != nil {
			if out != nil {
				// Not another member: trailing bytes Java ignores too.
				return out, nil
			}
			return nil, err
		}
		d.zr.Multistream(false)
		var err error
		if out, err = readBounded(&d.zr, out, hint, limit); err != nil {
			return nil, err
		}
		if out == nil {
			out = []byte{}
		}
		if rest := d.src.Len(); rest < 2 || !bytes.HasPrefix(src[len(src)-rest:], []byte{0x1f, 0x8b}) {
			return out, nil
		}
	}
}

func appendGzip(dst, raw []byte, level int) ([]byte, error) {
	if level != -1 && (level < 1 || level > 9) {
		return nil, fmt.Errorf("records: gzip level %d out of range (-1 or 1..9)", level)
	}
	pool := &gzipLevels[level+1]
	w := &appendWriter{b: dst}
	zw, _ := pool.Get().(*gzip.Writer)
	if zw == nil {
		var err error
		if zw, err = gzip.NewWriterLevel(w, level); err != nil {
			return nil, err
		}
	} else {
		zw.Reset(w)
	}
	defer func() {
		zw.Reset(nil)
		pool.Put(zw)
	}()
	if _, err := zw.Write(raw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return w.b, nil
}

// ---- snappy ----

func unsnappy(src []byte, limit int) ([]byte, error) {
	if !bytes.HasPrefix(src, xerialHeader[:8]) {
		n, err := snappyLen(src, limit)
		if err != nil {
			return nil, err
		}
		return snappy.DecodeStrict(make([]byte, n), src)
	}
	if len(src) < len(xerialHeader) {
		return nil, errors.New("short xerial header")
	}
	// The version fields are not checked, as librdkafka does not.
	body := src[len(xerialHeader):]
	// Sum the claimed block lengths first, so that nothing is allocated
	// for a bomb and the output is allocated once.
	total := 0
	for rem := body; len(rem) > 0; {
		blk, next, err := xerialBlock(rem)
		if err != nil {
			return nil, err
		}
		n, err := snappyLen(blk, limit)
		if err != nil {
			return nil, err
		}
		if total += n; total > limit {
			return nil, ErrDecompressLimit
		}
		rem = next
	}
	out := make([]byte, 0, total)
	for rem := body; len(rem) > 0; {
		blk, next, _ := xerialBlock(rem)
		n, _ := snappyLen(blk, limit)
		if _, err := snappy.DecodeStrict(out[len(out):len(out)+n], blk); err != nil {
			return nil, err
		}
		out = out[:len(out)+n]
		rem = next
	}
	return out, nil
}

// xerialBlock splits the first length-prefixed block off b.
func xerialBlock(b []byte) (blk, rest []byte, err error) {
	if len(b) < 4 {
		return nil, nil, errors.New("truncated xerial block length")
	}
	n := binary.BigEndian.Uint32(b)
	if uint64(n) > uint64(len(b)-4) {
		return nil, nil, fmt.Errorf("xerial block of %d bytes with %d left", n, len(b)-4)
	}
	return b[4 : 4+n], b[4+n:], nil
}

// snappyLen is the decoded length a raw snappy block declares. A claim
// over limit is ErrDecompressLimit; one that the block is too short to
// hold is corrupt, so that a few bytes cannot make us allocate much.
func snappyLen(b []byte, limit int) (int, error) {
	v, n := binary.Uvarint(b)
	if n <= 0 || n > 5 || v > 1<<32-1 {
		return 0, errors.New("bad snappy block length")
	}
	if v > uint64(limit) {
		return 0, ErrDecompressLimit
	}
	// The best a snappy element does is a 3-byte copy of 64 bytes.
	if v > uint64(len(b)-n)*snappyMaxRatio+64 {
		return 0, fmt.Errorf("snappy block of %d bytes claims %d", len(b), v)
	}
	return int(v), nil
}

// appendXerial appends raw in the xerial framing with 32 KiB blocks, as
// snappy-java's SnappyOutputStream writes it.
func appendXerial(dst, raw []byte) []byte {
	need := len(xerialHeader)
	for n := len(raw); n > 0; n -= xerialBlockSize {
		need += 4 + s2.MaxEncodedLen(min(n, xerialBlockSize))
	}
	if cap(dst)-len(dst) < need {
		grown := make([]byte, len(dst), len(dst)+need)
		copy(grown, dst)
		dst = grown
	}
	dst = append(dst, xerialHeader...)
	for len(raw) > 0 {
		n := min(len(raw), xerialBlockSize)
		at := len(dst)
		blk := s2.EncodeSnappy(dst[at+4:cap(dst)], raw[:n]) // in place: dst has room
		binary.BigEndian.PutUint32(dst[at:at+4], uint32(len(blk)))
		dst = dst[:at+4+len(blk)]
		raw = raw[n:]
	}
	return dst
}

// ---- lz4 ----

type lz4Decoder struct {
	zr  *lz4.Reader
	src bytes.Reader
}

var lz4Decoders = sync.Pool{New: func() any { return &lz4Decoder{zr: lz4.NewReader(nil)} }}

// lz4Levels pools writers: index 0 is the fast compressor, 1..9 HC levels.
var lz4Levels [10]sync.Pool

var lz4CompressionLevels = [10]lz4.CompressionLevel{lz4.Fast,
	lz4.Level1, lz4.Level2, lz4.Level3, lz4.Level4, lz4.Level5, lz4.Level6, lz4.Level7, lz4.Level8, lz4.Level9}

var lz4Magic = []byte{0x04, 0x22, 0x4d, 0x18}

func unlz4(src []byte, limit int) ([]byte, error) {
	// Kafka reads exactly a standard frame: no legacy or skippable frames.
	if !bytes.HasPrefix(src, lz4Magic) {
		return nil, errors.New("not an LZ4 frame")
	}
	hint := 4 * len(src)
	if len(src) >= 14 && src[4]&0x08 != 0 {
		// Content size present: refuse a claim over the limit up front.
		size := binary.LittleEndian.Uint64(src[6:])
		if size > uint64(limit) {
			return nil, ErrDecompressLimit
		}
		hint = int(min(size, uint64(len(src))*lz4MaxRatio+64))
	}
	d := lz4Decoders.Get().(*lz4Decoder)
	defer func() {
		d.zr.Reset(nil)
		d.src.Reset(nil)
		lz4Decoders.Put(d)
	}()
	d.src.Reset(src)
	d.zr.Reset(&d.src)
	out, err := readBounded(d.zr, nil, hint, limit)
	if err != nil {
		return nil, err
	}
	return out, nil
}

func appendLZ4(dst, raw []byte, level int) ([]byte, error) {
	var idx int
	switch {
	case level == -1:
		idx = 0
	case level >= 1 && level <= 17:
		idx = min(level, 9)
	default:
		return nil, fmt.Errorf("records: lz4 level %d out of range (-1 or 1..17)", level)
	}
	pool := &lz4Levels[idx]
	w := &appendWriter{b: dst}
	zw, _ := pool.Get().(*lz4.Writer)
	if zw == nil {
		zw = lz4.NewWriter(w)
		if err := zw.Apply(
			lz4.BlockSizeOption(lz4.Block64Kb),
			lz4.ChecksumOption(false),
			lz4.CompressionLevelOption(lz4CompressionLevels[idx]),
		); err != nil {
			return nil, err
		}
	} else {
		zw.Reset(w)
	}
	defer func() {
		zw.Reset(nil)
		pool.Put(zw)
	}()
	if _, err := zw.Write(raw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return w.b, nil
}

// ---- zstd ----

// zstdDecoders hold single-goroutine decoders used only with DecodeAll,
// which decodes straight into the output slice (no window buffer is
// allocated, whatever window a frame declares) and, with
// WithDecodeAllCapLimit, refuses to grow the output past its capacity.
var zstdDecoders = sync.Pool{New: func() any {
	d, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(zstdMaxWindow),
		zstd.WithDecodeAllCapLimit(true),
		zstd.WithDecodeBuffersBelow(0),
	)
	if err != nil {
		panic(err) // static options
	}
	return d
}}

// zstdLevels pools encoders by speed (zstd.EncoderLevel 1..4).
var zstdLevels [5]sync.Pool

func unzstd(src []byte, limit int) ([]byte, error) {
	lo, hi, est, err := zstdBounds(src)
	if err != nil {
		return nil, err
	}
	if lo > uint64(limit) {
		return nil, ErrDecompressLimit
	}
	d := zstdDecoders.Get().(*zstd.Decoder)
	defer zstdDecoders.Put(d)
	// hi bounds the output by the frame structure alone, but loosely for
	// frames without a content size: each compressed block counts as a
	// full 128 KiB, however few bytes it takes. So start from the estimate
	// and grow the buffer geometrically while the decoder fails for want
	// of room; a failure with room to spare is corruption. Garbage thus
	// costs about what it would decode to, not what it claims.
	// With WithDecodeAllCapLimit the decoder fails rather than grows the
	// buffer (but for the block that crosses it, hence the slack).
	const slack = zstdMaxBlock + 64
	size := max(est, 1)
	for {
		if size > uint64(limit) {
			size = uint64(limit) + slack // the last try: room to see the limit crossed
		}
		out, err := d.DecodeAll(src, make([]byte, 0, size))
		if len(out) > limit {
			return nil, ErrDecompressLimit
		}
		if err == nil {
			return out, nil
		}
		short := errors.Is(err, zstd.ErrDecoderSizeExceeded) || uint64(len(out))+slack > size
		switch {
		case !short || size >= hi:
			return nil, err // not for want of room
		case size > uint64(limit):
			return nil, ErrDecompressLimit // the output does not fit limit+slack
		}
		size = min(4*size, hi)
	}
}

// zstdBounds walks the frames and block headers of src without decoding.
// lo is what the content must at least decode to (declared content sizes,
// raw and RLE blocks), hi what it can at most decode to, est a guess.
func zstdBounds(src []byte) (lo, hi, est uint64, err error) {
	for len(src) > 0 {
		if len(src) < 4 {
			return 0, 0, 0, errors.New("truncated zstd frame")
		}
		magic := binary.LittleEndian.Uint32(src)
		if magic&0xfffffff0 == 0x184d2a50 { // skippable frame
			if len(src) < 8 {
				return 0, 0, 0, errors.New("truncated skippable frame")
			}
			n := uint64(binary.LittleEndian.Uint32(src[4:]))
			if n > uint64(len(src)-8) {
				return 0, 0, 0, errors.New("truncated skippable frame")
			}
			src = src[8+n:]
			continue
		}
		if magic != 0xfd2fb528 {
			return 0, 0, 0, fmt.Errorf("bad zstd magic %08x", magic)
		}
		flo, fhi, fest, n, err := zstdFrameBounds(src)
		if err != nil {
			return 0, 0, 0, err
		}
		lo += flo
		hi += fhi
		est += fest
		src = src[n:]
	}
	return lo, hi, est, nil
}

// zstdFrameBounds reads the frame at the start of src (RFC 8878 3.1.1) and
// returns its bounds and length.
func zstdFrameBounds(src []byte) (lo, hi, est uint64, n int, err error) {
	short := errors.New("truncated zstd frame")
	if len(src) < 5 {
		return 0, 0, 0, 0, short
	}
	fhd := src[4]
	if fhd&0x08 != 0 {
		return 0, 0, 0, 0, errors.New("zstd reserved bit set")
	}
	single := fhd&0x20 != 0
	p := 5
	var window uint64
	if !single {
		if len(src) < p+1 {
			return 0, 0, 0, 0, short
		}
		wd := src[p]
		p++
		base := uint64(1) << (10 + wd>>3)
		window = base + base/8*uint64(wd&7)
	}
	p += [4]int{0, 1, 2, 4}[fhd&3] // dictionary ID
	fcsSize := [4]int{0, 2, 4, 8}[fhd>>6]
	if fcsSize == 0 && single {
		fcsSize = 1
	}
	if len(src) < p+fcsSize {
		return 0, 0, 0, 0, short
	}
	fcs, hasFCS := uint64(0), fcsSize > 0
	switch fcsSize {
	case 1:
		fcs = uint64(src[p])
	case 2:
		fcs = uint64(binary.LittleEndian.Uint16(src[p:])) + 256
	case 4:
		fcs = uint64(binary.LittleEndian.Uint32(src[p:]))
	case 8:
		fcs = binary.LittleEndian.Uint64(src[p:])
	}
	p += fcsSize
	if single {
		window = fcs
	}
	if window > zstdMaxWindow {
		return 0, 0, 0, 0, fmt.Errorf("zstd window of %d bytes", window)
	}
	blockMax := min(max(window, 1<<10), zstdMaxBlock)
	var sure, compressed uint64 // output of raw and RLE blocks; input of compressed ones
	for last := false; !last; {
		if len(src) < p+3 {
			return 0, 0, 0, 0, short
		}
		bh := uint32(src[p]) | uint32(src[p+1])<<8 | uint32(src[p+2])<<16
		p += 3
		last = bh&1 != 0
		size := uint64(bh >> 3)
		if size > blockMax {
			return 0, 0, 0, 0, fmt.Errorf("zstd block of %d bytes over the %d maximum", size, blockMax)
		}
		content := size
		switch (bh >> 1) & 3 {
		case 0: // raw
			sure += size
		case 1: // RLE
			sure += size
			content = 1
		case 2: // compressed
			hi += blockMax
			compressed += size
		default:
			return 0, 0, 0, 0, errors.New("reserved zstd block type")
		}
		if uint64(len(src)-p) < content {
			return 0, 0, 0, 0, short
		}
		p += int(content)
	}
	if fhd&0x04 != 0 { // content checksum
		p += 4
		if len(src) < p {
			return 0, 0, 0, 0, short
		}
	}
	hi += sure
	if hasFCS {
		if sure > fcs || fcs > hi {
			return 0, 0, 0, 0, fmt.Errorf("zstd frame content size %d does not fit its blocks (%d..%d)", fcs, sure, hi)
		}
		return fcs, hi, fcs, p, nil
	}
	// Records compress by single digits; a short guess costs one retry.
	return sure, hi, min(hi, sure+8*compressed+1024), p, nil
}

func appendZstd(dst, raw []byte, level int) ([]byte, error) {
	if level == -1 || level == 0 {
		level = 3
	}
	if level < -131072 || level > 22 {
		return nil, fmt.Errorf("records: zstd level %d out of range (-131072..22)", level)
	}
	speed := zstd.EncoderLevelFromZstd(level)
	pool := &zstdLevels[speed]
	enc, _ := pool.Get().(*zstd.Encoder)
	if enc == nil {
		var err error
		enc, err = zstd.NewWriter(nil,
			zstd.WithEncoderLevel(speed),
			zstd.WithEncoderConcurrency(1),
			zstd.WithZeroFrames(true), // an empty section is still a frame
			zstd.WithEncoderCRC(false),
		)
		if err != nil {
			return nil, err
		}
	}
	defer pool.Put(enc)
	return enc.EncodeAll(raw, dst), nil
}
