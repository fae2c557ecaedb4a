package records

import (
	"bytes"
	stdgzip "compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// levels lists the levels worth testing per codec: every level Kafka
// allows for gzip and lz4, and each zstd speed class plus the extremes.
func levels(c Codec) []int {
	switch c {
	case CodecGzip:
		return []int{-1, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	case CodecLZ4:
		l := []int{-1}
		for i := 1; i <= 17; i++ {
			l = append(l, i)
		}
		return l
	case CodecZstd:
		return []int{-1, 0, -131072, -5, 1, 2, 3, 5, 6, 9, 10, 19, 22}
	}
	return []int{-1}
}

func roundTripInputs() map[string][]byte {
	p := prng(42)
	rnd := make([]byte, 40<<10)
	for i := range rnd {
		rnd[i] = byte(p.next())
	}
	return map[string][]byte{
		"empty":        {},
		"one byte":     {7},
		"small":        rawSection(sampleRecords(3, 20, 1)),
		"xerial block": p.text(xerialBlockSize),
		"xerial+1":     p.text(xerialBlockSize + 1),
		"lz4 block+1":  p.text(64<<10 + 1),
		"records":      rawSection(sampleRecords(300, 300, 2)),
		"random":       rnd,
		"zeros":        make([]byte, 200<<10),
	}
}

func TestCompressRoundTrip(t *testing.T) {
	for name, in := range roundTripInputs() {
		for _, c := range allCodecs {
			for _, level := range levels(c) {
				if len(in) > 4<<10 && level != -1 && level != 1 && level != levels(c)[len(levels(c))-1] {
					continue // every level on the small inputs, a spread on the big ones
				}
				t.Run(fmt.Sprintf("%s/%s/%d", name, c, level), func(t *testing.T) {
					z, err := Compress(c, in, level)
					if err != nil {
						t.Fatal(err)
					}
					out, err := Decompress(c, z, max(len(in), 1))
					if err != nil {
						t.Fatalf("Decompress: %v", err)
					}
					if !bytes.Equal(out, in) {
						t.Fatalf("round trip changed %d bytes into %d", len(in), len(out))
					}
					if c != CodecNone && len(in) > 1 {
						// One byte less is over the limit.
						if _, err := Decompress(c, z, len(in)-1); !errors.Is(err, ErrDecompressLimit) {
							t.Fatalf("limit %d: got %v, want ErrDecompressLimit", len(in)-1, err)
						}
					}
				})
			}
		}
	}
}

func TestCompressFormats(t *testing.T) {
	in := rawSection(sampleRecords(300, 600, 3)) // several xerial blocks
	if len(in) < 2*xerialBlockSize {
		t.Fatalf("input too small: %d", len(in))
	}
	t.Run("snappy is xerial framed with 32KiB blocks", func(t *testing.T) {
		z, _ := Compress(CodecSnappy, in, -1)
		if !bytes.HasPrefix(z, []byte("\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01")) {
			t.Fatalf("header % x", z[:16])
		}
		total := 0
		for rem := z[16:]; len(rem) > 0; {
			n := binary.BigEndian.Uint32(rem)
			blk := rem[4 : 4+n]
			dec, err := snappy.DecodeStrict(nil, blk) // what a C++/Java decoder accepts
			if err != nil {
				t.Fatal(err)
			}
			if len(dec) > xerialBlockSize {
				t.Fatalf("block of %d bytes", len(dec))
			}
			total += len(dec)
			rem = rem[4+n:]
		}
		if total != len(in) {
			t.Fatalf("blocks hold %d bytes, want %d", total, len(in))
		}
	})
	t.Run("lz4 is a Kafka-style frame", func(t *testing.T) {
		z, _ := Compress(CodecLZ4, in, -1)
		if !bytes.HasPrefix(z, []byte{0x04, 0x22, 0x4d, 0x18}) {
			t.Fatalf("magic % x", z[:4])
		}
		flg, bd := z[4], z[5]
		if flg>>6 != 1 || flg&0x20 == 0 {
			t.Errorf("FLG %08b: want version 01 and independent blocks", flg)
		}
		if flg&0x04 != 0 || flg&0x08 != 0 {
			t.Errorf("FLG %08b: want no content checksum nor size, as Kafka writes", flg)
		}
		if bd != 0x40 {
			t.Errorf("BD %02x: want 64KiB blocks", bd)
		}
	})
	t.Run("zstd single frame", func(t *testing.T) {
		z, _ := Compress(CodecZstd, in, -1)
		var h zstd.Header
		if err := h.Decode(z); err != nil {
			t.Fatal(err)
		}
		if !h.HasFCS || h.FrameContentSize != uint64(len(in)) {
			t.Errorf("header %+v", h)
		}
	})
	t.Run("empty input", func(t *testing.T) {
		// Each codec writes a valid, empty stream.
		for _, c := range allCodecs[1:] {
			z, err := Compress(c, nil, -1)
			if err != nil || len(z) == 0 {
				t.Fatalf("%s: %d bytes, %v", c, len(z), err)
			}
			if out, err := Decompress(c, z, 1); err != nil || len(out) != 0 {
				t.Fatalf("%s: %q, %v", c, out, err)
			}
		}
	})
}

func TestCompressLevels(t *testing.T) {
	bad := map[Codec][]int{
		CodecGzip: {0, -2, 10},
		CodecLZ4:  {0, -2, 18},
		CodecZstd: {23, -131073},
	}
	for c, ls := range bad {
		for _, l := range ls {
			if _, err := Compress(c, []byte("x"), l); err == nil {
				t.Errorf("%s level %d: no error", c, l)
			}
		}
	}
	for _, l := range []int{0, 5, 100} {
		if _, err := Compress(CodecSnappy, []byte("x"), l); err != nil {
			t.Errorf("snappy level %d: %v", l, err)
		}
	}
	if _, err := Compress(Codec(5), []byte("x"), -1); err == nil {
		t.Error("codec 5: no error")
	}
	// Higher levels compress better, or at least not worse than level 1.
	in := rawSection(sampleRecords(300, 300, 4))
	for _, c := range []Codec{CodecGzip, CodecLZ4, CodecZstd} {
		lo, _ := Compress(c, in, 1)
		hi, _ := Compress(c, in, 9)
		if len(hi) > len(lo) {
			t.Errorf("%s: level 9 gives %d bytes, level 1 %d", c, len(hi), len(lo))
		}
	}
}

func TestDecompressNone(t *testing.T) {
	in := []byte("abc")
	out, err := Decompress(CodecNone, in, 1)
	if err != nil || &out[0] != &in[0] {
		t.Fatalf("CodecNone must return its input as is: %v", err)
	}
}

func TestDecompressErrors(t *testing.T) {
	for _, c := range allCodecs[1:] {
		if _, err := Decompress(c, nil, 0); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s empty: %v", c, err)
		}
		if _, err := Decompress(c, []byte("definitely not compressed data"), 0); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s garbage: %v", c, err)
		}
	}
	for _, c := range []Codec{5, 6, 7, -1} {
		if _, err := Decompress(c, []byte{1}, 0); !errors.Is(err, ErrCorrupt) {
			t.Errorf("codec %d: %v", c, err)
		}
	}
}

// TestDecompressCorrupt truncates and flips bits in valid payloads of each
// codec: never a panic, every error an ErrCorrupt, every success bounded.
func TestDecompressCorrupt(t *testing.T) {
	const limit = 1 << 20
	in := rawSection(sampleRecords(60, 200, 5))
	p := prng(99)
	for _, c := range allCodecs[1:] {
		z, err := Compress(c, in, -1)
		if err != nil {
			t.Fatal(err)
		}
		check := func(what string, b []byte) {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("%s %s: panic %v on % x", c, what, r, b)
				}
			}()
			out, err := Decompress(c, b, limit)
			if err != nil && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("%s %s: error %v is not ErrCorrupt", c, what, err)
			}
			if len(out) > limit {
				t.Fatalf("%s %s: %d bytes over the limit", c, what, len(out))
			}
		}
		step := max(1, len(z)/150)
		for n := 0; n < len(z); n += step {
			check(fmt.Sprintf("truncated to %d", n), z[:n])
		}
		for i := 0; i < 600; i++ {
			b := bytes.Clone(z)
			for j := 0; j <= i%3; j++ {
				b[p.intn(len(b))] ^= 1 << p.intn(8)
			}
			check("bit flip", b)
		}
		for i := 0; i < 100; i++ {
			b := bytes.Clone(z)
			at := p.intn(len(b))
			b = append(b[:at], append(make([]byte, p.intn(40)), b[at:]...)...)
			check("insert", b)
		}
	}
}

// TestTrailingData follows Java's readers: gzip's GZIPInputStream reads
// concatenated members and ignores other trailing bytes.
func TestTrailingData(t *testing.T) {
	in1, in2 := []byte("first member "), []byte("second member")
	m1, _ := Compress(CodecGzip, in1, -1)
	m2, _ := Compress(CodecGzip, in2, 9)
	out, err := Decompress(CodecGzip, append(bytes.Clone(m1), m2...), 0)
	if err != nil || string(out) != string(in1)+string(in2) {
		t.Fatalf("two members: %q, %v", out, err)
	}
	out, err = Decompress(CodecGzip, append(bytes.Clone(m1), 0, 0, 0, 0), 0)
	if err != nil || string(out) != string(in1) {
		t.Fatalf("trailing zeros: %q, %v", out, err)
	}
	// A second member that is corrupt is an error, as in Java.
	bad := append(bytes.Clone(m1), m2[:len(m2)-3]...)
	if _, err := Decompress(CodecGzip, bad, 0); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("truncated second member: %v", err)
	}
	// The limit counts all members.
	if _, err := Decompress(CodecGzip, append(bytes.Clone(m1), m2...), len(in1)+1); !errors.Is(err, ErrDecompressLimit) {
		t.Fatalf("limit over two members: %v", err)
	}
}

// ---- bombs ----

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

const bombLimit = 1 << 20

// allocatedBy reports the bytes fn allocates.
func allocatedBy(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func zstdStream(t testing.TB, in []byte) []byte {
	var buf bytes.Buffer
	w, err := zstd.NewWriter(&buf, zstd.WithEncoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	w.Write(in)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type bomb struct {
	c Codec
	b []byte
}

var (
	bombsOnce sync.Once
	bombSet   map[string]bomb
)

func bombs(t testing.TB) map[string]bomb {
	bombsOnce.Do(func() { bombSet = makeBombs(t) })
	return bombSet
}

func makeBombs(t testing.TB) map[string]bomb {
	zeros := make([]byte, 4<<20)
	pattern := bytes.Repeat([]byte("0123456789abcdefghij"), (4<<20)/20)
	out := map[string]bomb{}
	add := func(name string, c Codec, b []byte) { out[name] = bomb{c, b} }

	var gz bytes.Buffer
	zw, _ := stdgzip.NewWriterLevel(&gz, 9)
	zw.Write(zeros)
	zw.Close()
	add("gzip zeros", CodecGzip, gz.Bytes())

	// Its trailer says 4 MiB; a lying trailer changes nothing.
	lying := bytes.Clone(gz.Bytes())
	binary.LittleEndian.PutUint32(lying[len(lying)-4:], 100)
	add("gzip lying ISIZE", CodecGzip, lying)

	enc, _ := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	add("zstd declared size", CodecZstd, enc.EncodeAll(zeros, nil))
	add("zstd zeros stream", CodecZstd, zstdStream(t, zeros)) // no content size
	rle := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 11 << 3}      // window 2 MiB, no size
	for i := range 16 {
		bh := uint32(128<<10)<<3 | 1<<1 | uint32(boolInt(i == 15)) // RLE, 128 KiB
		rle = append(rle, byte(bh), byte(bh>>8), byte(bh>>16), 'x')
	}
	add("zstd RLE blocks", CodecZstd, rle)
	add("zstd compressed blocks", CodecZstd, zstdStream(t, pattern))               // only real decoding tells
	add("zstd frames", CodecZstd, bytes.Repeat(zstdStream(t, pattern[:1<<20]), 4)) // each under the limit

	var lz bytes.Buffer
	lw := lz4.NewWriter(&lz)
	lw.Apply(lz4.BlockSizeOption(lz4.Block64Kb), lz4.ChecksumOption(false))
	lw.Write(zeros[:2<<20])
	lw.Close()
	add("lz4 zeros", CodecLZ4, bytes.Clone(lz.Bytes()))
	lz.Reset()
	lw.Reset(&lz)
	lw.Apply(lz4.SizeOption(1 << 40))
	lw.Write(zeros[:1<<10])
	lw.Close()
	add("lz4 declared size", CodecLZ4, lz.Bytes())

	// Snappy expands at most about 21:1, so its bombs lie about lengths or
	// repeat blocks.
	add("snappy raw declared", CodecSnappy, binary.AppendUvarint(nil, 1<<31-1))
	add("snappy raw real", CodecSnappy, snappy.Encode(nil, zeros[:2<<20]))
	blk := snappy.Encode(nil, zeros[:32<<10])
	x := bytes.Clone(xerialHeader)
	for range 64 {
		x = binary.BigEndian.AppendUint32(x, uint32(len(blk)))
		x = append(x, blk...)
	}
	add("snappy xerial", CodecSnappy, x)
	x = bytes.Clone(xerialHeader)
	for range 40 {
		claim := binary.AppendUvarint(nil, 1<<30) // each claims 1 GiB
		x = binary.BigEndian.AppendUint32(x, uint32(len(claim)))
		x = append(x, claim...)
	}
	add("snappy xerial declared", CodecSnappy, x)
	return out
}

func TestBombs(t *testing.T) {
	for name, bomb := range bombs(t) {
		t.Run(name, func(t *testing.T) {
			if len(bomb.b) > 200<<10 {
				t.Fatalf("bomb of %d bytes is not small", len(bomb.b))
			}
			var out []byte
			var err error
			alloc := allocatedBy(func() { out, err = Decompress(bomb.c, bomb.b, bombLimit) })
			if !errors.Is(err, ErrDecompressLimit) || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("got %v, want ErrDecompressLimit", err)
			}
			if out != nil {
				t.Fatalf("%d bytes returned with an error", len(out))
			}
			// The output buffer is at most the limit, plus for zstd the
			// growth of the block that crosses it; decoder state is
			// pooled.
			if alloc > 4*bombLimit {
				t.Fatalf("allocated %d bytes for a %d-byte limit", alloc, bombLimit)
			}
			t.Logf("%s: %d bytes -> error after allocating %d", name, len(bomb.b), alloc)
		})
	}
}

// TestBombsRepeated checks that decoding bombs over and over does not grow
// the heap: nothing is retained in pools or caches.
func TestBombsRepeated(t *testing.T) {
	bs := bombs(t)
	run := func() {
		for _, b := range bs {
			Decompress(b.c, b.b, bombLimit)
		}
	}
	run()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range 3 {
		run()
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 4*bombLimit {
		t.Fatalf("heap grew by %d bytes", grew)
	}
}

// TestZstdWindow: frames are decoded in place, so a declared window costs
// nothing; windows over zstd-jni's 128 MiB limit are refused as Java does.
func TestZstdWindow(t *testing.T) {
	frame := func(wd byte, content []byte) []byte {
		b := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, wd} // no FCS, not single segment
		bh := uint32(len(content))<<3 | 1             // raw, last
		b = append(b, byte(bh), byte(bh>>8), byte(bh>>16))
		return append(b, content...)
	}
	// Window log 27 (128 MiB): allowed, and cheap.
	var out []byte
	var err error
	alloc := allocatedBy(func() { out, err = Decompress(CodecZstd, frame(17<<3, []byte("hello")), 0) })
	if err != nil || string(out) != "hello" {
		t.Fatalf("window 2^27: %q, %v", out, err)
	}
	if alloc > 1<<20 {
		t.Fatalf("window 2^27 allocated %d bytes", alloc)
	}
	// 2^27 + 2^24 and 2^41: refused.
	for _, wd := range []byte{17<<3 | 1, 31<<3 | 7} {
		if _, err := Decompress(CodecZstd, frame(wd, []byte("hello")), 0); !errors.Is(err, ErrCorrupt) {
			t.Errorf("window descriptor %02x: %v", wd, err)
		}
	}
}

func TestZstdFrames(t *testing.T) {
	a, _ := Compress(CodecZstd, []byte("first "), -1)
	b := zstdStream(t, []byte("second"))
	skip := []byte{0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 'x', 'y', 'z'}
	in := append(append(append(bytes.Clone(skip), a...), skip...), b...)
	out, err := Decompress(CodecZstd, in, 0)
	if err != nil || string(out) != "first second" {
		t.Fatalf("%q, %v", out, err)
	}
	whole := map[int]bool{len(skip): true, len(skip) + len(a): true, 2*len(skip) + len(a): true}
	for n := 1; n < len(in); n++ {
		// Only prefixes ending on a frame boundary are whole streams.
		if _, err := Decompress(CodecZstd, in[:n], 0); (err == nil) != whole[n] {
			t.Errorf("prefix of %d bytes: %v", n, err)
		}
	}
}

// TestZstdBoundsEstimate: a zstd frame without a content size, like those
// Java writes, whose compressed blocks expand more than the first guess.
func TestZstdBoundsEstimate(t *testing.T) {
	in := bytes.Repeat([]byte("abcdefghijklmnopqrstuvwxyz0123456789"), 100_000)
	z := zstdStream(t, in)
	lo, hi, est, err := zstdBounds(z)
	if err != nil {
		t.Fatal(err)
	}
	if lo > uint64(len(in)) || hi < uint64(len(in)) || est >= uint64(len(in)) {
		t.Fatalf("bounds %d..%d (est %d) for %d bytes", lo, hi, est, len(in))
	}
	out, err := Decompress(CodecZstd, z, 0)
	if err != nil || !bytes.Equal(out, in) {
		t.Fatalf("%d bytes, %v", len(out), err)
	}
	if _, err := Decompress(CodecZstd, z, len(in)-1); !errors.Is(err, ErrDecompressLimit) {
		t.Fatalf("limit: %v", err)
	}
}

// TestLiesAreCheap: payloads that claim a large output below the limit but
// cannot produce it are refused without allocating what they claim. The
// fuzzer found the snappy case (a 12-byte block claiming 200 MiB).
func TestLiesAreCheap(t *testing.T) {
	zstdHeader := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 13 << 3} // window 8 MiB, no size
	junk := bytes.Clone(zstdHeader)
	for i := range 2000 { // 2000 one-byte "compressed" blocks: up to 250 MiB
		bh := uint32(1)<<3 | 2<<1 | uint32(boolInt(i == 1999))
		junk = append(junk, byte(bh), byte(bh>>8), byte(bh>>16), 0xff)
	}
	// Single segment, 4-byte content size of 100 MiB, one raw byte.
	fcsLie := []byte{0x28, 0xb5, 0x2f, 0xfd, 0xa0, 0, 0, 0x40, 0x06, 1<<3 | 1, 0, 0, 'x'}
	for name, tc := range map[string]struct {
		c Codec
		b []byte
	}{
		"snappy raw":    {CodecSnappy, []byte("\x8c\x8c\x8cb\x8c\x8c\x8c\x8c\x8c\x8c\x8c")},
		"snappy xerial": {CodecSnappy, append(bytes.Clone(xerialHeader), 0, 0, 0, 5, 0x80, 0x80, 0x80, 0x40, 0)},
		"zstd blocks":   {CodecZstd, junk},
		"zstd size":     {CodecZstd, fcsLie},
	} {
		var err error
		alloc := allocatedBy(func() { _, err = Decompress(tc.c, tc.b, 0) })
		if !errors.Is(err, ErrCorrupt) || errors.Is(err, ErrDecompressLimit) {
			t.Errorf("%s: %v", name, err)
		}
		if alloc > 1<<20 {
			t.Errorf("%s: allocated %d bytes", name, alloc)
		}
		t.Logf("%s: %v after allocating %d bytes", name, err, alloc)
	}
}
