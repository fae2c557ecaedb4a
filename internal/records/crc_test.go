package records

import (
	"hash/crc32"
	"math/rand/v2"
	"testing"
)

// TestChecksumMatchesCRC32C: the piecewise, prefetching checksum is
// hash/crc32's CRC-32C for every length around its thresholds and piece
// boundaries.
func TestChecksumMatchesCRC32C(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	buf := make([]byte, 3*crcPrefetchMin+3*crcPiece)
	for i := range buf {
		buf[i] = byte(rng.Uint32())
	}
	lengths := []int{0, 1, crcPiece - 1, crcPiece, crcPiece + 1, crcPrefetchMin - 1, crcPrefetchMin, crcPrefetchMin + 1,
		crcPrefetchMin + crcAhead, crcPrefetchMin + crcPiece - 1, 2 * crcPrefetchMin, len(buf)}
	for range 200 {
		lengths = append(lengths, rng.IntN(len(buf)+1))
	}
	for _, n := range lengths {
		for _, start := range []int{0, 1, 63} {
			if start+n > len(buf) {
				continue
			}
			p := buf[start : start+n]
			if got, want := checksum(p), crc32.Checksum(p, castagnoli); got != want {
				t.Fatalf("len %d at %d: checksum %08x, crc32 %08x", n, start, got, want)
			}
			if got, want := cachedChecksum(p), crc32.Checksum(p, castagnoli); got != want {
				t.Fatalf("len %d at %d: cachedChecksum %08x, crc32 %08x", n, start, got, want)
			}
		}
	}
}
