package cli

// chronik log verify|dump: offline checks of a data directory. These read
// the files directly, with the formats of internal/log/doc.go, and never
// run the broker's recovery: they must work on a damaged directory and
// change nothing in it.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chronik-stream/chronik/internal/records"
)

// On-disk names and widths (internal/log/doc.go). Part of the on-disk format.
const (
	segLogSuffix       = ".log"
	segIndexSuffix     = ".index"
	segTimeIndexSuffix = ".timeindex"
	segSnapshotSuffix  = ".snapshot"
	recoveryPointFile  = "recovery-point"
	offsetEntryWidth   = 8  // relativeOffset uint32 | position uint32
	timeEntryWidth     = 12 // timestamp int64 | relativeOffset uint32
	recoveryPointSize  = 2 + 4 + 5*8
)

var crc32c = crc32.MakeTable(crc32.Castagnoli)

func logCmd(ctx context.Context, env Env, args []string) error {
	const usage = "chronik log verify|dump DIR [flags]"
	if len(args) == 0 {
		return usagef("log", usage, "missing subcommand")
	}
	switch args[0] {
	case "verify":
		return logVerifyCmd(ctx, env, args[1:])
	case "dump":
		return logDumpCmd(ctx, env, args[1:])
	case "-h", "--help", "help":
		fmt.Fprintf(env.Stdout, "Usage: %s\n", usage)
		return nil
	}
	return usagef("log", usage, "unknown subcommand %q", args[0])
}

// parseSegName returns the base offset of a "<20 digits><suffix>" name.
func parseSegName(name, suffix string) (int64, bool) {
	s, ok := strings.CutSuffix(name, suffix)
	if !ok || len(s) != 20 {
		return 0, false
	}
	off, err := strconv.ParseInt(s, 10, 64)
	if err != nil || off < 0 {
		return 0, false
	}
	return off, true
}

func segName(base int64, suffix string) string { return fmt.Sprintf("%020d%s", base, suffix) }

// partitionDirs returns the partition directories at or below root: root
// itself if it holds segment files, otherwise every directory below it that
// does (this finds <topic>-<n> and also __groups/offsets), sorted.
func partitionDirs(root string) ([]string, error) {
	var dirs []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		ents, err := os.ReadDir(path)
		if err != nil {
			return err
		}
		for _, e := range ents {
			if _, ok := parseSegName(e.Name(), segLogSuffix); ok && !e.IsDir() {
				dirs = append(dirs, path)
				return nil
			}
		}
		return nil
	})
	slices.Sort(dirs)
	return dirs, err
}

// segReader reads the batches of one segment file in order, checking only
// their framing (length against what is left of the file).
type segReader struct {
	f    *os.File
	r    *bufio.Reader
	pos  int64
	size int64
	buf  []byte
}

func openSegReader(path string) (*segReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &segReader{f: f, r: bufio.NewReaderSize(f, 1<<20), size: st.Size()}, nil
}

func (s *segReader) close() error { return s.f.Close() }

// framingError says why the rest of a segment cannot be read as batches.
type framingError struct {
	pos int64
	msg string
}

func (e *framingError) Error() string { return fmt.Sprintf("position %d: %s", e.pos, e.msg) }

// next returns the position and bytes of the next batch (valid until the
// next call), io.EOF at the end of the file, a *framingError when the
// rest is not a batch, or an I/O error.
func (s *segReader) next() (int64, []byte, error) {
	left := s.size - s.pos
	if left == 0 {
		return s.pos, nil, io.EOF
	}
	if left < records.LogOverhead {
		return s.pos, nil, s.badTail(fmt.Sprintf("%d bytes at the end, too few for a batch header (torn write?)", left))
	}
	hdr, err := s.r.Peek(records.LogOverhead)
	if err != nil {
		return s.pos, nil, err
	}
	n, err := records.PeekSize(hdr)
	if err != nil {
		return s.pos, nil, s.badTail(fmt.Sprintf("bad batch length: %v", err))
	}
	if int64(n) > left {
		return s.pos, nil, s.badTail(fmt.Sprintf("batch length %d but only %d bytes left (torn write?)", n, left))
	}
	if cap(s.buf) < n {
		s.buf = make([]byte, n)
	}
	b := s.buf[:n]
	if _, err := io.ReadFull(s.r, b); err != nil {
		return s.pos, nil, err
	}
	pos := s.pos
	s.pos += int64(n)
	return pos, b, nil
}

// badTail builds the framing error at s.pos, saying whether the rest of
// the file is only zeroes (space that was never written).
func (s *segReader) badTail(msg string) error {
	left := s.size - s.pos
	zero := true
	buf := make([]byte, 64<<10)
	for read := int64(0); read < left && zero; {
		n, err := s.r.Read(buf[:min(int64(len(buf)), left-read)])
		if bytes.ContainsFunc(buf[:n], func(r rune) bool { return r != 0 }) {
			zero = false
		}
		read += int64(n)
		if err != nil {
			break
		}
	}
	if zero {
		msg = fmt.Sprintf("the last %d bytes are zeroes (never written; a crash before the data landed?)", left)
	}
	return &framingError{pos: s.pos, msg: msg}
}

// ---- verify ----

// finding is one thing verify reports about a file.
type finding struct {
	file string
	msg  string
	note bool // informational, not a problem
}

// partReport is verify's result for one partition directory.
type partReport struct {
	dir       string
	segments  int
	batches   int64
	bytes     int64
	first     int64 // base offset of the first segment
	next      int64 // offset after the last valid batch
	findings  []finding
	problems  int
	readError error
}

func (r *partReport) problem(file, format string, args ...any) {
	r.findings = append(r.findings, finding{file: file, msg: fmt.Sprintf(format, args...)})
	r.problems++
}

func (r *partReport) note(file, format string, args ...any) {
	r.findings = append(r.findings, finding{file: file, msg: fmt.Sprintf(format, args...), note: true})
}

// segFacts is what the scan of one segment learned, for the index checks.
type segFacts struct {
	base     int64
	size     int64
	validEnd int64   // byte position after the last valid batch
	end      int64   // offset after the last valid batch
	pos      []int64 // batch start positions, ascending
	offs     []int64 // batch base offsets
	maxTs    []int64 // each batch's max timestamp
	runMax   []int64 // largest max timestamp up to and including each batch
}

func (f *segFacts) batchAtPos(pos int64) (int, bool) {
	return slices.BinarySearch(f.pos, pos)
}

func (f *segFacts) batchAtOffset(off int64) (int, bool) {
	return slices.BinarySearch(f.offs, off)
}

func (f *segFacts) segMaxTs() int64 {
	if len(f.runMax) == 0 {
		return -1
	}
	return f.runMax[len(f.runMax)-1]
}

type verifyOptions struct {
	deep bool // decompress and parse every record
}

func logVerifyCmd(ctx context.Context, env Env, args []string) error {
	c := newCommand(env, "log verify", "chronik log verify DIR [--deep]", `
Checks a data directory, a partition directory, or one .log file, offline
(stop the broker first, or expect its unsynced tail to show up): every
batch's framing, CRC-32C and offset continuity, segment continuity, that
.index entries point at batch starts with the right offsets, that
.timeindex entries grow and match the batches' timestamps, and the
recovery point and producer snapshots' checksums. Prints what it found;
exits 1 if there is any problem.`)
	var o verifyOptions
	c.fs.BoolVar(&o.deep, "deep", false, "also decompress and parse every record")
	pos, err := c.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return c.usagef("want one directory or .log file")
	}
	reports, err := verifyPath(ctx, pos[0], o)
	if err != nil {
		return err
	}
	problems := printVerify(env.Stdout, pos[0], reports)
	if problems > 0 {
		return exitError(ExitFail)
	}
	return nil
}

// verifyPath verifies root: a .log file, a partition directory, or a data
// directory.
func verifyPath(ctx context.Context, root string, o verifyOptions) ([]*partReport, error) {
	st, err := os.Stat(root)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		base, ok := parseSegName(filepath.Base(root), segLogSuffix)
		if !ok {
			return nil, fmt.Errorf("%s: not a directory or a <20-digit offset>.log segment", root)
		}
		r := &partReport{dir: filepath.Dir(root), first: base, next: base}
		if f := verifySegment(r, filepath.Dir(root), base, base, true, o); f != nil {
			r.next = f.end
		}
		return []*partReport{r}, nil
	}
	dirs, err := partitionDirs(root)
	if err != nil {
		return nil, err
	}
	if len(dirs) == 0 {
		return nil, fmt.Errorf("%s: no segment files (<20-digit offset>.log) in it or below it", root)
	}
	var out []*partReport
	for _, d := range dirs {
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		out = append(out, verifyPartition(d, o))
	}
	return out, nil
}

func verifyPartition(dir string, o verifyOptions) *partReport {
	r := &partReport{dir: dir}
	ents, err := os.ReadDir(dir)
	if err != nil {
		r.readError = err
		r.problems++
		return r
	}
	var bases, snaps []int64
	names := map[string]bool{}
	rp := false
	for _, e := range ents {
		name := e.Name()
		names[name] = true
		switch {
		case e.IsDir():
			// Only __groups nests logs; partitionDirs visits those.
		case name == recoveryPointFile:
			rp = true
		case strings.Contains(name, ".broken"):
			r.note(name, "bytes set aside by an earlier recovery (evidence of a cut tail)")
		case strings.HasSuffix(name, ".tmp"):
			r.note(name, "unfinished atomic write (removed when the broker opens the partition)")
		default:
			if off, ok := parseSegName(name, segLogSuffix); ok {
				bases = append(bases, off)
			} else if off, ok := parseSegName(name, segSnapshotSuffix); ok {
				snaps = append(snaps, off)
			} else if _, ok := parseSegName(name, segIndexSuffix); ok {
			} else if _, ok := parseSegName(name, segTimeIndexSuffix); ok {
			} else {
				r.note(name, "unexpected file")
			}
		}
	}
	slices.Sort(bases)
	for name := range names {
		for _, suf := range []string{segIndexSuffix, segTimeIndexSuffix} {
			if off, ok := parseSegName(name, suf); ok {
				if _, found := slices.BinarySearch(bases, off); !found {
					r.note(name, "index without its segment (removed when the broker opens the partition)")
				}
			}
		}
	}
	if len(bases) == 0 {
		return r
	}
	r.first, r.next = bases[0], bases[0]
	facts := map[int64]*segFacts{}
	for i, base := range bases {
		if i > 0 && base != r.next {
			if base > r.next {
				r.problem(segName(base, segLogSuffix), "segment starts at offset %d but the log before it ends at %d: offsets %d..%d are missing", base, r.next, r.next, base-1)
			} else {
				r.problem(segName(base, segLogSuffix), "segment starts at offset %d, inside the previous segment (which ends at %d)", base, r.next)
			}
		}
		f := verifySegment(r, dir, base, base, i == len(bases)-1, o)
		facts[base] = f
		if f != nil {
			r.next = f.end
		}
	}
	if rp {
		verifyRecoveryPoint(r, dir, facts)
	}
	for _, s := range snaps {
		verifySnapshot(r, dir, s, r.next)
	}
	return r
}

// verifySegment scans one segment and checks its indexes; it returns what
// it learned, or nil if the file cannot be read.
func verifySegment(r *partReport, dir string, base, expect int64, last bool, o verifyOptions) *segFacts {
	name := segName(base, segLogSuffix)
	sr, err := openSegReader(filepath.Join(dir, name))
	if err != nil {
		r.problem(name, "cannot open: %v", err)
		return nil
	}
	defer sr.close()
	r.segments++
	r.bytes += sr.size
	f := &segFacts{base: base, size: sr.size, end: expect}
	for {
		pos, b, err := sr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			var fe *framingError
			if errors.As(err, &fe) {
				r.problem(name, "%v; the %d bytes from there on cannot be read as batches", fe, sr.size-pos)
			} else {
				r.problem(name, "read error at position %d: %v", pos, err)
			}
			break
		}
		h, err := records.ParseHeader(b)
		if err == nil {
			err = records.CheckCRC(b)
		}
		if err == nil && h.LastOffsetDelta < 0 {
			err = fmt.Errorf("negative last offset delta %d", h.LastOffsetDelta)
		}
		if err == nil && h.BaseOffset != f.end {
			err = fmt.Errorf("base offset %d, expected %d (offsets must continue the log)", h.BaseOffset, f.end)
		}
		if err == nil && h.LastOffset()-base > math.MaxInt32 {
			err = fmt.Errorf("last offset %d too far from the segment base %d for 32-bit relative offsets", h.LastOffset(), base)
		}
		if err == nil && o.deep {
			_, err = records.Iterate(b, 0, func(*records.Record) error { return nil })
		}
		if err != nil {
			r.problem(name, "position %d (offset %d): %v; the %d bytes from this batch on are not a valid log (the broker truncates such a tail if it is above its recovery point)",
				pos, f.end, err, sr.size-pos)
			break
		}
		r.batches++
		prev := int64(-1)
		if n := len(f.runMax); n > 0 {
			prev = f.runMax[n-1]
		}
		f.pos = append(f.pos, pos)
		f.offs = append(f.offs, h.BaseOffset)
		f.maxTs = append(f.maxTs, h.MaxTimestamp)
		f.runMax = append(f.runMax, max(prev, h.MaxTimestamp))
		f.end = h.LastOffset() + 1
		f.validEnd = pos + int64(len(b))
	}
	verifyOffsetIndex(r, dir, f)
	verifyTimeIndex(r, dir, f, last)
	return f
}

func readIndexFile(r *partReport, dir string, base int64, suffix string, width int) ([]byte, bool) {
	name := segName(base, suffix)
	b, err := os.ReadFile(filepath.Join(dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		r.problem(name, "missing (the broker rebuilds it on open)")
		return nil, false
	}
	if err != nil {
		r.problem(name, "cannot read: %v", err)
		return nil, false
	}
	if extra := len(b) % width; extra != 0 {
		r.problem(name, "%d bytes is not a whole number of %d-byte entries: torn last entry", len(b), width)
		b = b[:len(b)-extra]
	}
	return b, true
}

func verifyOffsetIndex(r *partReport, dir string, f *segFacts) {
	b, ok := readIndexFile(r, dir, f.base, segIndexSuffix, offsetEntryWidth)
	if !ok {
		return
	}
	name := segName(f.base, segIndexSuffix)
	prevRel, prevPos := int64(-1), int64(-1)
	bad := 0
	for i := 0; i*offsetEntryWidth < len(b); i++ {
		e := b[i*offsetEntryWidth:]
		rel, pos := int64(binary.BigEndian.Uint32(e)), int64(binary.BigEndian.Uint32(e[4:]))
		off := f.base + rel
		var msg string
		switch {
		case rel <= prevRel || pos <= prevPos:
			msg = fmt.Sprintf("does not grow (previous entry: offset %d, position %d)", f.base+prevRel, prevPos)
		case pos >= f.validEnd:
			msg = fmt.Sprintf("points past the valid log, which ends at position %d", f.validEnd)
		default:
			j, found := f.batchAtPos(pos)
			if !found {
				msg = "does not point at the start of a batch"
			} else if f.offs[j] != off {
				msg = fmt.Sprintf("points at the batch of base offset %d", f.offs[j])
			}
		}
		if msg != "" {
			if bad < 5 {
				r.problem(name, "entry %d (offset %d, position %d) %s", i, off, pos, msg)
			} else {
				r.problems++
			}
			bad++
		}
		prevRel, prevPos = max(prevRel, rel), max(prevPos, pos)
	}
	if bad > 5 {
		r.note(name, "%d more bad entries not shown", bad-5)
	}
}

func verifyTimeIndex(r *partReport, dir string, f *segFacts, last bool) {
	b, ok := readIndexFile(r, dir, f.base, segTimeIndexSuffix, timeEntryWidth)
	if !ok {
		return
	}
	name := segName(f.base, segTimeIndexSuffix)
	prevTs, prevRel := int64(math.MinInt64), int64(-1)
	bad := 0
	n := len(b) / timeEntryWidth
	for i := 0; i < n; i++ {
		e := b[i*timeEntryWidth:]
		ts, rel := int64(binary.BigEndian.Uint64(e)), int64(binary.BigEndian.Uint32(e[8:]))
		off := f.base + rel
		var msg string
		switch {
		case ts <= prevTs:
			msg = fmt.Sprintf("timestamp does not grow (previous entry: %d)", prevTs)
		case rel < prevRel:
			msg = fmt.Sprintf("offset goes back (previous entry: offset %d)", f.base+prevRel)
		case off >= f.end:
			msg = fmt.Sprintf("points past the valid log, which ends at offset %d", f.end)
		default:
			j, found := f.batchAtOffset(off)
			switch {
			case !found:
				msg = "offset is not the base offset of a batch"
			case f.maxTs[j] != ts:
				msg = fmt.Sprintf("but that batch's max timestamp is %d", f.maxTs[j])
			case f.runMax[j] != ts:
				msg = fmt.Sprintf("but a batch before it has a larger timestamp, %d", f.runMax[j])
			}
		}
		if msg != "" {
			if bad < 5 {
				r.problem(name, "entry %d (timestamp %d, offset %d) %s", i, ts, off, msg)
			} else {
				r.problems++
			}
			bad++
		}
		prevTs, prevRel = max(prevTs, ts), max(prevRel, rel)
	}
	if bad > 5 {
		r.note(name, "%d more bad entries not shown", bad-5)
	}
	// A closed segment's last entry holds its largest timestamp.
	if !last && bad == 0 && f.segMaxTs() >= 0 && f.validEnd == f.size {
		if n == 0 || prevTs != f.segMaxTs() {
			r.problem(name, "closed segment: the last entry should hold the segment's largest timestamp %d", f.segMaxTs())
		}
	}
}

// verifyRecoveryPoint checks the recovery-point file: its checksum, and
// that it points at a batch boundary of valid data.
func verifyRecoveryPoint(r *partReport, dir string, facts map[int64]*segFacts) {
	b, err := os.ReadFile(filepath.Join(dir, recoveryPointFile))
	if err != nil {
		r.problem(recoveryPointFile, "cannot read: %v", err)
		return
	}
	if len(b) != recoveryPointSize || binary.BigEndian.Uint16(b) != 1 {
		r.problem(recoveryPointFile, "not a version-1 recovery point of %d bytes (%d bytes); the broker ignores it and scans the whole log", recoveryPointSize, len(b))
		return
	}
	if crc32.Checksum(b[6:], crc32c) != binary.BigEndian.Uint32(b[2:]) {
		r.problem(recoveryPointFile, "checksum mismatch; the broker ignores it and scans the whole log")
		return
	}
	v := func(i int) int64 { return int64(binary.BigEndian.Uint64(b[6+8*i:])) }
	segBase, pos, offset := v(0), v(1), v(2)
	f, ok := facts[segBase]
	switch {
	case !ok:
		r.problem(recoveryPointFile, "names segment %d, which does not exist", segBase)
	case pos > f.validEnd:
		r.problem(recoveryPointFile, "says segment %d is synced and valid up to position %d (offset %d), but its valid batches end at position %d (offset %d): acknowledged data may be lost",
			segBase, pos, offset, f.validEnd, f.end)
	case pos == f.validEnd:
		if offset != f.end {
			r.problem(recoveryPointFile, "position %d is the end of segment %d's valid batches, at offset %d, but the recovery point says offset %d", pos, segBase, f.end, offset)
		}
	default:
		if j, found := f.batchAtPos(pos); !found {
			r.problem(recoveryPointFile, "position %d of segment %d is not a batch boundary", pos, segBase)
		} else if f.offs[j] != offset {
			r.problem(recoveryPointFile, "position %d of segment %d holds offset %d, but the recovery point says %d", pos, segBase, f.offs[j], offset)
		}
	}
}

// verifySnapshot checks a producer snapshot's version and checksum.
func verifySnapshot(r *partReport, dir string, off, logEnd int64) {
	name := segName(off, segSnapshotSuffix)
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		r.problem(name, "cannot read: %v", err)
		return
	}
	if len(b) < 10 || (binary.BigEndian.Uint16(b) != 1 && binary.BigEndian.Uint16(b) != 2) {
		r.problem(name, "not a version-1 or -2 producer snapshot (%d bytes); the broker ignores it", len(b))
		return
	}
	if crc32.Checksum(b[6:], crc32c) != binary.BigEndian.Uint32(b[2:]) {
		r.problem(name, "checksum mismatch; the broker ignores it and rebuilds producer state from the log")
		return
	}
	if off > logEnd {
		r.note(name, "snapshot at offset %d is past the log end %d (the broker ignores it)", off, logEnd)
	}
}

// printVerify prints the reports and returns the number of problems.
func printVerify(w io.Writer, root string, reports []*partReport) int {
	problems, batches, segments := 0, int64(0), 0
	for _, r := range reports {
		rel, err := filepath.Rel(root, r.dir)
		if err != nil || rel == "." {
			rel = r.dir
		}
		status := "ok"
		if r.problems > 0 {
			status = plural(r.problems, "problem", "problems")
		}
		if r.readError != nil {
			fmt.Fprintf(w, "%s: cannot read: %v\n", rel, r.readError)
		} else {
			offs := "no batches"
			if r.next > r.first {
				offs = fmt.Sprintf("offsets %d..%d", r.first, r.next-1)
			}
			fmt.Fprintf(w, "%s: %s, %s, %s, %s: %s\n", rel, plural(r.segments, "segment", "segments"),
				plural(int(r.batches), "batch", "batches"), offs, mib(r.bytes), status)
		}
		for _, f := range r.findings {
			if f.note {
				fmt.Fprintf(w, "  note: %s: %s\n", f.file, f.msg)
			} else {
				fmt.Fprintf(w, "  PROBLEM: %s: %s\n", f.file, f.msg)
			}
		}
		problems += r.problems
		batches += r.batches
		segments += r.segments
	}
	fmt.Fprintf(w, "checked %s, %s, %s: ", plural(len(reports), "partition", "partitions"),
		plural(segments, "segment", "segments"), plural(int(batches), "batch", "batches"))
	if problems == 0 {
		fmt.Fprintln(w, "no problems")
	} else {
		fmt.Fprintln(w, plural(problems, "problem", "problems"))
	}
	return problems
}

func mib(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%.1f KiB", float64(n)/1024)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// ---- dump ----

type dumpOptions struct {
	records  bool
	indexes  bool
	maxBytes int
}

func logDumpCmd(ctx context.Context, env Env, args []string) error {
	c := newCommand(env, "log dump", "chronik log dump DIR|FILE.log [--records] [--indexes]", `
Prints every batch of every segment (base and last offset, record count,
codec, producer id/epoch/sequence, timestamps, position, size, CRC) of a
data directory, a partition directory or one .log file, offline, in the
style of Kafka's DumpLogSegments. A batch whose framing is broken ends
its segment's dump.`)
	var o dumpOptions
	c.fs.BoolVar(&o.records, "records", false, "print each batch's records too")
	c.fs.BoolVar(&o.indexes, "indexes", false, "print the .index and .timeindex entries too")
	c.fs.IntVar(&o.maxBytes, "max-bytes", 128, "longest key or value printed with --records, in bytes (0: all)")
	pos, err := c.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return c.usagef("want one directory or .log file")
	}
	w := bufio.NewWriterSize(env.Stdout, 256<<10)
	defer w.Flush()
	root := pos[0]
	st, err := os.Stat(root)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		base, ok := parseSegName(filepath.Base(root), segLogSuffix)
		if !ok {
			return fmt.Errorf("%s: not a directory or a <20-digit offset>.log segment", root)
		}
		return dumpSegment(w, filepath.Dir(root), base, root, o)
	}
	dirs, err := partitionDirs(root)
	if err != nil {
		return err
	}
	if len(dirs) == 0 {
		return fmt.Errorf("%s: no segment files (<20-digit offset>.log) in it or below it", root)
	}
	for _, d := range dirs {
		ents, err := os.ReadDir(d)
		if err != nil {
			return err
		}
		var bases []int64
		for _, e := range ents {
			if off, ok := parseSegName(e.Name(), segLogSuffix); ok {
				bases = append(bases, off)
			}
		}
		slices.Sort(bases)
		for _, base := range bases {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			label := filepath.Join(d, segName(base, segLogSuffix))
			if err := dumpSegment(w, d, base, label, o); err != nil {
				return err
			}
		}
	}
	return nil
}

func dumpSegment(w *bufio.Writer, dir string, base int64, label string, o dumpOptions) error {
	sr, err := openSegReader(filepath.Join(dir, segName(base, segLogSuffix)))
	if err != nil {
		return err
	}
	defer sr.close()
	fmt.Fprintf(w, "Dumping %s (base offset %d, %d bytes)\n", label, base, sr.size)
	for {
		pos, b, err := sr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Fprintf(w, "cannot read further: %v\n", err)
			break
		}
		h, err := records.ParseHeader(b)
		if err != nil {
			fmt.Fprintf(w, "position: %d size: %d: cannot parse the batch header: %v\n", pos, len(b), err)
			continue
		}
		valid := records.CheckCRC(b) == nil
		tsType := "CreateTime"
		if h.TimestampType() == records.TimestampLogAppend {
			tsType = "LogAppendTime"
		}
		fmt.Fprintf(w, "baseOffset: %d lastOffset: %d count: %d baseSequence: %d lastSequence: %d producerId: %d producerEpoch: %d partitionLeaderEpoch: %d isTransactional: %v isControl: %v position: %d baseTimestamp: %d %s: %d size: %d magic: %d compresscodec: %s crc: %d isvalid: %v\n",
			h.BaseOffset, h.LastOffset(), h.NumRecords, h.BaseSequence, h.LastSequence(), h.ProducerID, h.ProducerEpoch,
			h.PartitionLeaderEpoch, h.IsTransactional(), h.IsControl(), pos, h.BaseTimestamp, tsType, h.MaxTimestamp,
			len(b), h.Magic, h.Codec(), h.CRC, valid)
		if o.records {
			_, err := records.Iterate(b, 0, func(rec *records.Record) error {
				dumpRecord(w, &h, rec, tsType, o.maxBytes)
				return nil
			})
			if err != nil {
				fmt.Fprintf(w, "| cannot read the records: %v\n", err)
			}
		}
	}
	if o.indexes {
		dumpIndexes(w, dir, base)
	}
	return nil
}

func dumpRecord(w *bufio.Writer, h *records.Header, r *records.Record, tsType string, maxBytes int) {
	seq := int64(-1)
	if h.BaseSequence >= 0 {
		seq = int64(h.BaseSequence) + int64(r.OffsetDelta)
	}
	fmt.Fprintf(w, "| offset: %d %s: %d keySize: %d valueSize: %d sequence: %d headerKeys: [",
		h.BaseOffset+int64(r.OffsetDelta), tsType, h.BaseTimestamp+r.TimestampDelta, nullableLen(r.Key), nullableLen(r.Value), seq)
	for i, hd := range r.Headers {
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteString(hd.Key)
	}
	w.WriteByte(']')
	if r.Key != nil {
		fmt.Fprintf(w, " key: %s", printable(r.Key, maxBytes))
	}
	if r.Value != nil {
		fmt.Fprintf(w, " payload: %s", printable(r.Value, maxBytes))
	}
	w.WriteByte('\n')
}

// printable returns b as is if it is plain text, else quoted like a Go
// string, cut at max bytes.
func printable(b []byte, max int) string {
	more := ""
	if max > 0 && len(b) > max {
		more = fmt.Sprintf("...(%d more bytes)", len(b)-max)
		b = b[:max]
	}
	s := string(b)
	if strconv.CanBackquote(s) {
		return s + more
	}
	return strconv.Quote(s) + more
}

func dumpIndexes(w *bufio.Writer, dir string, base int64) {
	if b, err := os.ReadFile(filepath.Join(dir, segName(base, segIndexSuffix))); err != nil {
		fmt.Fprintf(w, "offset index: %v\n", err)
	} else {
		fmt.Fprintf(w, "offset index %s: %s\n", segName(base, segIndexSuffix), plural(len(b)/offsetEntryWidth, "entry", "entries"))
		for i := 0; (i+1)*offsetEntryWidth <= len(b); i++ {
			e := b[i*offsetEntryWidth:]
			fmt.Fprintf(w, "  offset: %d position: %d\n", base+int64(binary.BigEndian.Uint32(e)), binary.BigEndian.Uint32(e[4:]))
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, segName(base, segTimeIndexSuffix))); err != nil {
		fmt.Fprintf(w, "time index: %v\n", err)
	} else {
		fmt.Fprintf(w, "time index %s: %s\n", segName(base, segTimeIndexSuffix), plural(len(b)/timeEntryWidth, "entry", "entries"))
		for i := 0; (i+1)*timeEntryWidth <= len(b); i++ {
			e := b[i*timeEntryWidth:]
			ts := int64(binary.BigEndian.Uint64(e))
			fmt.Fprintf(w, "  timestamp: %d (%s) offset: %d\n", ts, time.UnixMilli(ts).UTC().Format(time.RFC3339Nano), base+int64(binary.BigEndian.Uint32(e[8:])))
		}
	}
}
