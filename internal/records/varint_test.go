package records

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// varint is binary.Varint: on every input of 0-2 bytes, and on random
// longer ones (with the continuation bits set at random).
func TestVarintMatchesBinary(t *testing.T) {
	check := func(b []byte) {
		v, n := varint(b)
		wv, wn := binary.Varint(b)
		if v != wv || n != wn {
			t.Fatalf("varint(%x) = %d, %d; binary.Varint %d, %d", b, v, n, wv, wn)
		}
	}
	check(nil)
	for x := 0; x < 256; x++ {
		check([]byte{byte(x)})
		for y := 0; y < 256; y++ {
			check([]byte{byte(x), byte(y)})
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200_000; i++ {
		b := make([]byte, 3+rng.IntN(9))
		for j := range b {
			b[j] = byte(rng.Uint32())
			if rng.IntN(4) > 0 {
				b[j] |= 0x80
			}
		}
		check(b)
	}
}
