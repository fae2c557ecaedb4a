package records

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"testing"
)

// benchSection is about 1 MiB of JSON-like records, a typical large batch.
var benchSection = rawSection(sampleRecords(4000, 250, 77))

func BenchmarkCompress(b *testing.B) {
	for _, c := range allCodecs[1:] {
		for _, level := range []int{-1, 1, 9} {
			if c == CodecSnappy && level != -1 {
				continue
			}
			b.Run(fmt.Sprintf("%s/%d", c, level), func(b *testing.B) {
				b.SetBytes(int64(len(benchSection)))
				b.ReportAllocs()
				var z []byte
				for b.Loop() {
					var err error
					if z, err = Compress(c, benchSection, level); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(len(benchSection))/float64(len(z)), "ratio")
			})
		}
	}
}

func BenchmarkDecompress(b *testing.B) {
	for _, c := range allCodecs[1:] {
		z, err := Compress(c, benchSection, -1)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.String(), func(b *testing.B) {
			b.SetBytes(int64(len(benchSection)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decompress(c, z, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// Java writes zstd without a content size, so the output size is a
	// guess; this is the path every Java-produced zstd batch takes.
	b.Run("zstd-stream", func(b *testing.B) {
		z := zstdStream(b, benchSection)
		b.SetBytes(int64(len(benchSection)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Decompress(CodecZstd, z, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkValidateDeep(b *testing.B) {
	for _, c := range allCodecs {
		batch := mustBuild(b, noProducer(c), sampleRecords(4000, 250, 77))
		b.Run(c.String(), func(b *testing.B) {
			b.SetBytes(int64(len(benchSection)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ValidateDeep(batch, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkRecordsOf(b *testing.B) {
	for _, c := range []Codec{CodecNone, CodecZstd} {
		batch := mustBuild(b, noProducer(c), sampleRecords(4000, 250, 77))
		b.Run(c.String(), func(b *testing.B) {
			b.SetBytes(int64(len(benchSection)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := RecordsOf(batch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkBuild(b *testing.B) {
	recs := sampleRecords(4000, 250, 77)
	for _, c := range allCodecs {
		b.Run(c.String(), func(b *testing.B) {
			b.SetBytes(int64(len(benchSection)))
			b.ReportAllocs()
			for b.Loop() {
				mustBuild(b, noProducer(c), recs)
			}
		})
	}
}

// BenchmarkChecksumCold sums 1 MiB batches from a 256 MiB ring, so each is
// out of the cache when summed, as in a multi-MiB Produce frame; "plain" is
// hash/crc32 in one call.
func BenchmarkChecksumCold(b *testing.B) {
	const size, ring = 1 << 20, 256
	bufs := make([][]byte, ring)
	for i := range bufs {
		bufs[i] = make([]byte, size)
		for j := range bufs[i] {
			bufs[i][j] = byte(j * (i + 7))
		}
	}
	for _, bc := range []struct {
		name string
		fn   func([]byte) uint32
	}{
		{"prefetch", checksum},
		{"plain", func(p []byte) uint32 { return crc32.Checksum(p, castagnoli) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(size)
			for i := 0; b.Loop(); i++ {
				bc.fn(bufs[i%ring])
			}
		})
	}
}

// BenchmarkValidate1KiB: a 1 MiB batch of 1 KiB values without keys or
// headers, the shape `chronik bench produce` sends, from the cache. The
// record walk is what it measures beside the CRC (ValidateNoCRC).
func BenchmarkValidate1KiB(b *testing.B) {
	recs := make([]Record, 1000)
	for i := range recs {
		recs[i] = Record{OffsetDelta: int32(i), Value: bytes.Repeat([]byte{byte(i)}, 1024)}
	}
	batch := mustBuild(b, noProducer(CodecNone), recs)
	h, err := ParseHeader(batch)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("Validate", func(b *testing.B) {
		b.SetBytes(int64(len(batch)))
		for b.Loop() {
			if _, err := Validate(batch); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("walk", func(b *testing.B) {
		b.SetBytes(int64(len(batch)))
		for b.Loop() {
			if err := CheckRecords(batch, h); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkChecksumCached: a 1 MiB batch in the cache, summed with the
// loads ahead meant for cold memory (checksum) and without (cachedChecksum,
// what ValidateWritten uses).
func BenchmarkChecksumCached(b *testing.B) {
	buf := make([]byte, 1<<20)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	for _, c := range []struct {
		name string
		f    func([]byte) uint32
	}{{"loads-ahead", checksum}, {"cached", cachedChecksum}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(buf)))
			for b.Loop() {
				c.f(buf)
			}
		})
	}
}
