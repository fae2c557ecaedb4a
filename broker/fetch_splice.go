package broker

// Fetch responses whose record bytes go from the segment files to the socket
// without passing through the broker (sendfile), on plaintext listeners.
//
// kmsg encodes the response as for any other: only each partition's
// records are a 16-byte marker instead of the batches (fetchSplice.add).
// The writer then finds the markers in the encoded bytes, in order, each
// after the length prefix kmsg gives a 16-byte field; it sends the encoded
// bytes up to that prefix, the prefix of the span's length (the same kbin
// primitive kmsg's encoder calls), the span from its file, and so on to
// the end, with the frame size adjusted. Markers are a random process key
// and a counter, so record bytes cannot imitate one; if a marker is not
// where it must be, the writer reads the spans, puts the records into the
// response and encodes it again (fetchSplice.inline), so a splice never
// gets a response wrong. TLS listeners, and fetches below v4
// (down-conversion), read into memory as before; so do spans smaller than
// spliceMinBytes, where a system call costs more than the copy.

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"

	klog "github.com/chronik-stream/chronik/internal/log"
)

// spliceMinBytes is the smallest span sent with sendfile; smaller ones are
// copied into the response.
const spliceMinBytes = 16 << 10

const markerLen = 16

var (
	markerKey [8]byte // random per process
	markerSeq atomic.Uint64
)

func init() {
	if _, err := rand.Read(markerKey[:]); err != nil {
		panic(err)
	}
}

// fetchSplice is the spans of one fetch response and their markers.
type fetchSplice struct {
	spans   []klog.Span
	markers []byte   // markerLen each
	where   [][2]int // topic and partition index of each in the response
	bytes   int      // sum of the spans' lengths
}

// add takes sp (and its segment reference) for the partition at (ti, pi)
// of the response and returns the marker to encode in its place.
func (f *fetchSplice) add(sp klog.Span, ti, pi int) []byte {
	f.markers = append(f.markers, markerKey[:]...)
	f.markers = binary.BigEndian.AppendUint64(f.markers, markerSeq.Add(1))
	f.spans = append(f.spans, sp)
	f.where = append(f.where, [2]int{ti, pi})
	f.bytes += sp.Len
	n := len(f.markers)
	return f.markers[n-markerLen : n : n]
}

func (f *fetchSplice) marker(i int) []byte { return f.markers[i*markerLen : (i+1)*markerLen] }

// release drops every span (a response dropped, or written).
func (f *fetchSplice) release() {
	for i := range f.spans {
		f.spans[i].Release()
	}
	f.spans, f.markers, f.where, f.bytes = f.spans[:0], f.markers[:0], f.where[:0], 0
}

// inline reads the spans into resp's partitions in place of the markers.
func (f *fetchSplice) inline(resp *kmsg.FetchResponse) error {
	for i := range f.spans {
		recs, err := f.spans[i].ReadInto(nil)
		if err != nil {
			return err
		}
		w := f.where[i]
		resp.Topics[w[0]].Partitions[w[1]].RecordBatches = recs
	}
	f.release()
	return nil
}

// lenPrefix appends the length prefix kmsg writes before a records field of
// n bytes (kmsg's appendNullableBytes: compact from Fetch v12).
func lenPrefix(dst []byte, n int, flexible bool) []byte {
	if flexible {
		return kbin.AppendUvarint(dst, 1+uint32(n))
	}
	return kbin.AppendInt32(dst, int32(n))
}

// errNoSplice: the markers were not where they must be; nothing was written.
var errNoSplice = errors.New("fetch response markers not found")

// writeSpliced writes frame, a fetch response framed by the writer (size,
// correlation id, response header, body) carrying f's markers, with each
// marker replaced by its span. It writes nothing and returns errNoSplice
// when a marker is not after its length prefix, in order.
func (c *conn) writeSpliced(bw *bufio.Writer, frame []byte, flexible bool, f *fetchSplice) error {
	type cut struct {
		at, end int    // frame[at:end] is the marker and its prefix
		prefix  []byte // the span's length prefix
	}
	cuts := make([]cut, len(f.spans))
	mp := lenPrefix(nil, markerLen, flexible)
	prefixes := make([]byte, 0, 5*len(f.spans))
	size := len(frame) - 4
	from := 8 // size and correlation id
	for i := range f.spans {
		j := bytes.Index(frame[from:], f.marker(i))
		if j < 0 {
			return errNoSplice
		}
		at := from + j
		if at-len(mp) < from || !bytes.Equal(frame[at-len(mp):at], mp) {
			return errNoSplice
		}
		n := len(prefixes)
		prefixes = lenPrefix(prefixes, f.spans[i].Len, flexible)
		cuts[i] = cut{at: at - len(mp), end: at + markerLen, prefix: prefixes[n:len(prefixes):len(prefixes)]}
		size += len(prefixes) - n - len(mp) - markerLen + f.spans[i].Len
		from = at + markerLen
	}
	binary.BigEndian.PutUint32(frame, uint32(size))
	prev := 0
	for i, ct := range cuts {
		if _, err := bw.Write(frame[prev:ct.at]); err != nil {
			return err
		}
		if _, err := bw.Write(ct.prefix); err != nil {
			return err
		}
		if err := c.sendSpan(bw, &f.spans[i]); err != nil {
			return err
		}
		prev = ct.end
	}
	_, err := bw.Write(frame[prev:])
	return err
}

// sendSpan writes sp's bytes after what bw holds: by sendfile when the
// connection is TCP and the span's file an OS file, else through bw.
func (c *conn) sendSpan(bw *bufio.Writer, sp *klog.Span) error {
	if tc, ok := c.nc.(*net.TCPConn); ok {
		if err := bw.Flush(); err != nil {
			return err
		}
		if done, err := sendFile(tc, sp); done {
			if err == nil {
				c.b.metrics.sentFromFile(sp.Len)
			}
			return err
		}
	}
	n, err := io.Copy(bw, sp.Reader())
	if err == nil && n != int64(sp.Len) {
		err = fmt.Errorf("%s: %w: span of %d bytes at %d read %d", sp.File().Name(), io.ErrUnexpectedEOF, sp.Len, sp.Pos, n)
	}
	return err
}
