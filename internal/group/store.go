package group

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	klog "github.com/chronik-stream/chronik/internal/log"
	"github.com/chronik-stream/chronik/internal/records"
	"github.com/chronik-stream/chronik/internal/vfs"
)

// Names inside the coordinator's directory. "offsets" is the live log; a
// rewrite builds "offsets.compact" and swaps it in through "offsets.old"
// (see compact). None of them ends in "-<n>", so the broker's log Manager,
// which scans only the data directory's top level anyway, never mistakes
// them for a topic partition.
const (
	logDirName     = "offsets"
	compactDirName = "offsets.compact"
	oldDirName     = "offsets.old"
	// offsetsTopic is the name the log is opened with, for its log lines.
	offsetsTopic = "__consumer_offsets"
)

// Key versions of Kafka's __consumer_offsets schema (wire format): 0 and 1
// are offset commits, 2 is group metadata. Later versions (KIP-848 records)
// are skipped on replay.
const (
	keyOffsetCommit  = 1
	keyGroupMetadata = 2
)

// kv is one record to write: a nil value is a tombstone.
type kv struct{ key, value []byte }

// write is one appended batch waiting for its fsync.
type write struct {
	p     *klog.Partition
	last  int64
	apply func(err error)
}

// store is the offsets log, Kafka's __consumer_offsets: one partition whose
// records are keyed like Kafka's, read back whole at start-up.
//
// Appends happen under the caller's group lock, so the order of records in
// the log is the order in which group state was decided. The effects of a
// write become visible (apply) only once it is durable, and a single
// goroutine (run) applies writes in log order, so memory always equals a
// replay of a prefix of the log (invariants 1 and 2).
//
// Lock order: a group's mu, then store.mu, then the partition's locks.
// run holds no lock while it calls apply.
type store struct {
	dir    string // the coordinator directory (<data>/__groups)
	fs     vfs.FS
	logger *slog.Logger
	cfg    klog.Config
	opts   klog.Options

	mu      sync.Mutex
	p       *klog.Partition
	queue   []write
	records int64 // records in the log, live or not
	closed  bool
	failed  error // a rewrite failed midway: the log is closed

	wake chan struct{}
	ctx  context.Context // cancelled when the store is abandoned
	stop context.CancelFunc
	done chan struct{}
}

// openStore opens the log, finishing a rewrite a crash interrupted.
func openStore(dir string, fs vfs.FS, logger *slog.Logger, cfg klog.Config, now func() time.Time) (*store, error) {
	s := &store{
		dir:    dir,
		fs:     fs,
		logger: logger,
		cfg:    cfg,
		opts:   klog.Options{FS: fs, Logger: logger, Now: now},
		wake:   make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
	s.ctx, s.stop = context.WithCancel(context.Background())
	if err := mkdirAllDurable(fs, dir); err != nil {
		return nil, err
	}
	if err := s.finishSwap(); err != nil {
		return nil, err
	}
	p, err := klog.Open(filepath.Join(dir, logDirName), offsetsTopic, 0, cfg, s.opts)
	if err != nil {
		return nil, fmt.Errorf("group: opening the offsets log: %w", err)
	}
	s.p = p
	go s.run()
	return s, nil
}

// finishSwap completes or rolls back a rewrite interrupted by a crash. The
// steps of compact are: build and fsync offsets.compact; rename offsets to
// offsets.old; rename offsets.compact to offsets; fsync the directory;
// remove offsets.old.
func (s *store) finishSwap() error {
	exists := func(name string) bool {
		_, _, err := s.fs.Stat(filepath.Join(s.dir, name))
		return err == nil
	}
	dirty := false
	switch {
	case !exists(logDirName) && exists(compactDirName):
		// Crashed between the two renames: the rewrite was complete.
		s.logger.Warn("finishing an interrupted rewrite of the offsets log")
		if err := s.fs.Rename(filepath.Join(s.dir, compactDirName), filepath.Join(s.dir, logDirName)); err != nil {
			return fmt.Errorf("group: %w: %w", klog.ErrStorage, err)
		}
		dirty = true
	case !exists(logDirName) && exists(oldDirName):
		if err := s.fs.Rename(filepath.Join(s.dir, oldDirName), filepath.Join(s.dir, logDirName)); err != nil {
			return fmt.Errorf("group: %w: %w", klog.ErrStorage, err)
		}
		dirty = true
	}
	for _, name := range []string{compactDirName, oldDirName} {
		if exists(name) {
			if err := s.fs.RemoveAll(filepath.Join(s.dir, name)); err != nil {
				return fmt.Errorf("group: %w: %w", klog.ErrStorage, err)
			}
			dirty = true
		}
	}
	if dirty {
		if err := s.fs.SyncDir(s.dir); err != nil {
			return fmt.Errorf("group: %w: %w", klog.ErrStorage, err)
		}
	}
	return nil
}

// mkdirAllDurable creates dir and its missing parents and fsyncs each new
// entry's parent, so that a crash cannot lose the directory holding
// acknowledged commits.
func mkdirAllDurable(fs vfs.FS, dir string) error {
	var missing []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, _, err := fs.Stat(d); err == nil {
			break
		} else if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("group: %w: stat %s: %w", klog.ErrStorage, d, err)
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("group: %w: mkdir %s: %w", klog.ErrStorage, dir, err)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		parent := filepath.Dir(missing[i])
		if err := fs.SyncDir(parent); err != nil {
			return fmt.Errorf("group: %w: fsync dir %s: %w", klog.ErrStorage, parent, err)
		}
	}
	return nil
}

// append writes recs as one batch. apply runs on the store's goroutine once
// the batch is durable (err nil) or can no longer become so, after every
// earlier write's apply. The caller holds the lock of the group the records
// belong to, which fixes their place in the log.
func (s *store) append(now time.Time, recs []kv, apply func(err error)) error {
	batch, err := encodeBatch(now, recs)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return klog.ErrClosed
	}
	if s.failed != nil {
		return s.failed
	}
	res, err := s.p.Append(batch)
	if err != nil {
		return err
	}
	s.records += int64(len(recs))
	s.queue = append(s.queue, write{p: s.p, last: res.LastOffset, apply: apply})
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

// run applies durable writes in log order.
func (s *store) run() {
	defer close(s.done)
	for {
		s.mu.Lock()
		if len(s.queue) == 0 {
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return
			}
			<-s.wake
			continue
		}
		w := s.queue[0]
		s.mu.Unlock()
		err := w.p.WaitDurable(s.ctx, w.last)
		s.mu.Lock()
		s.queue[0] = write{}
		s.queue = s.queue[1:]
		s.mu.Unlock()
		if w.apply != nil {
			w.apply(err)
		}
	}
}

// close refuses further appends, closes the log (which fsyncs what was
// appended, so pending writes complete) and waits until every pending
// write was applied.
func (s *store) close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.done
		return nil
	}
	s.closed = true
	p := s.p
	s.mu.Unlock()
	err := p.Close()
	// WaitDurable returns at once now: with the HW past every write, or with
	// ErrClosed / the storage error for a write the close could not sync.
	select {
	case s.wake <- struct{}{}:
	default:
	}
	<-s.done
	s.stop()
	return err
}

// encodeBatch builds the magic-2 batch holding recs, all stamped now.
func encodeBatch(now time.Time, recs []kv) ([]byte, error) {
	rs := make([]records.Record, len(recs))
	for i, r := range recs {
		rs[i] = records.Record{OffsetDelta: int32(i), Key: r.key, Value: r.value}
	}
	return records.Build(records.BuildOptions{
		BaseTimestamp: now.UnixMilli(),
		ProducerID:    records.NoProducerID,
		ProducerEpoch: -1,
		BaseSequence:  records.NoSequence,
	}, rs)
}

// replay reads the log from its start to upTo (at most its high watermark)
// and calls fn for every record, in order. It returns the number of records
// read.
func replay(p *klog.Partition, upTo int64, fn func(offset int64, key, value []byte) error) (int64, error) {
	start, hw, _ := p.Offsets()
	hw = min(hw, upTo)
	var n int64
	for off := start; off < hw; {
		res, err := p.Read(off, 1<<20, true)
		if err != nil {
			return n, err
		}
		if len(res.Records) == 0 {
			return n, fmt.Errorf("group: %w: offsets log has no batch at offset %d below its high watermark %d", klog.ErrStorage, off, hw)
		}
		err = records.Split(res.Records, func(h records.Header, b []byte) error {
			if h.LastOffset() < off {
				return nil // the batch that contains off may start before it
			}
			_, err := records.Iterate(b, 0, func(r *records.Record) error {
				o := h.BaseOffset + int64(r.OffsetDelta)
				if o < off || o >= hw {
					return nil
				}
				n++
				return fn(o, r.Key, r.Value)
			})
			off = h.LastOffset() + 1
			return err
		})
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// Record keys and values, in Kafka's __consumer_offsets schema.

func offsetKey(group, topic string, partition int32) []byte {
	k := kmsg.OffsetCommitKey{Version: keyOffsetCommit, Group: group, Topic: topic, Partition: partition}
	return k.AppendTo(nil)
}

func groupKey(group string) []byte {
	k := kmsg.GroupMetadataKey{Version: keyGroupMetadata, Group: group}
	return k.AppendTo(nil)
}

// offsetValue encodes a commit as Kafka does: version 1 when the commit has
// an explicit expiry (OffsetCommit v1-v4 retention), else version 3.
func offsetValue(o Offset) []byte {
	v := kmsg.OffsetCommitValue{
		Version:         3,
		Offset:          o.Offset,
		LeaderEpoch:     o.LeaderEpoch,
		Metadata:        o.Metadata,
		CommitTimestamp: o.CommitTime.UnixMilli(),
	}
	if !o.ExpireTime.IsZero() {
		v.Version = 1
		v.ExpireTimestamp = o.ExpireTime.UnixMilli()
	}
	return v.AppendTo(nil)
}

// groupValue records what of a group survives a restart: its protocol type,
// generation, protocol, leader and when it entered its state. Members are
// not kept: after a restart they rejoin.
func groupValue(protocolType string, generation int32, protocol, leader string, stateTime time.Time) []byte {
	v := kmsg.GroupMetadataValue{
		Version:               3,
		ProtocolType:          protocolType,
		Generation:            generation,
		CurrentStateTimestamp: stateTime.UnixMilli(),
	}
	if protocol != "" {
		v.Protocol = &protocol
	}
	if leader != "" {
		v.Leader = &leader
	}
	return v.AppendTo(nil)
}

// decoded is one record of the log, decoded.
type decoded struct {
	group string
	// Exactly one of these is set.
	isOffset, isGroup bool
	topic             string
	partition         int32
	offset            *Offset                  // nil: tombstone
	meta              *kmsg.GroupMetadataValue // nil: tombstone
}

var errSkip = errors.New("group: record of an unknown kind")

func decodeRecord(key, value []byte) (decoded, error) {
	var d decoded
	if len(key) < 2 {
		return d, fmt.Errorf("group: %w: record key of %d bytes", records.ErrCorrupt, len(key))
	}
	switch version := int16(uint16(key[0])<<8 | uint16(key[1])); version {
	case 0, keyOffsetCommit:
		var k kmsg.OffsetCommitKey
		if err := k.ReadFrom(key); err != nil {
			return d, fmt.Errorf("group: %w: offset key: %v", records.ErrCorrupt, err)
		}
		d.isOffset, d.group, d.topic, d.partition = true, k.Group, k.Topic, k.Partition
		if value != nil {
			var v kmsg.OffsetCommitValue
			if err := v.ReadFrom(value); err != nil {
				return d, fmt.Errorf("group: %w: offset value: %v", records.ErrCorrupt, err)
			}
			o := Offset{Offset: v.Offset, LeaderEpoch: -1, Metadata: v.Metadata, CommitTime: time.UnixMilli(v.CommitTimestamp)}
			if v.Version >= 3 {
				o.LeaderEpoch = v.LeaderEpoch
			}
			if v.Version == 1 && v.ExpireTimestamp >= 0 {
				o.ExpireTime = time.UnixMilli(v.ExpireTimestamp)
			}
			d.offset = &o
		}
	case keyGroupMetadata:
		var k kmsg.GroupMetadataKey
		if err := k.ReadFrom(key); err != nil {
			return d, fmt.Errorf("group: %w: group key: %v", records.ErrCorrupt, err)
		}
		d.isGroup, d.group = true, k.Group
		if value != nil {
			var v kmsg.GroupMetadataValue
			if err := v.ReadFrom(value); err != nil {
				return d, fmt.Errorf("group: %w: group value: %v", records.ErrCorrupt, err)
			}
			d.meta = &v
		}
	default:
		return d, errSkip
	}
	return d, nil
}

// storeError turns a failed append or fsync into what the client sees, as
// Kafka's GroupMetadataManager does: a log that is closed or failed means
// "not the coordinator (any more)", which clients retry after looking the
// coordinator up again; a batch too large is INVALID_COMMIT_OFFSET_SIZE for
// commits and UNKNOWN_SERVER_ERROR otherwise.
func storeError(err error, commit bool) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, klog.ErrMessageTooLarge):
		if commit {
			return fmt.Errorf("%w: %w", kerr.InvalidCommitOffsetSize, err)
		}
		return fmt.Errorf("%w: %w", kerr.UnknownServerError, err)
	case errors.Is(err, context.Canceled), errors.Is(err, klog.ErrClosed):
		return fmt.Errorf("%w: %w", kerr.CoordinatorNotAvailable, err)
	}
	return fmt.Errorf("%w: %w", kerr.NotCoordinator, err)
}

// compact rewrites the log with only its live records, the way Kafka's
// cleaner compacts __consumer_offsets but all at once:
//
//  1. Without blocking appends: note the log end E1, wait until it is
//     durable, and write the live state of [start, E1) (liveOf) into a
//     fresh log in offsets.compact.
//  2. Holding the store lock, so appends wait: copy the batches appended
//     since, [E1, E2), as they are; fsync; close both logs; swap the
//     directories with two renames and a directory fsync (finishSwap
//     completes a swap a crash interrupted); open the new log.
//
// Writes still waiting in the queue are below E2 and durable in the old
// log, so their WaitDurable returns at once. It returns the records in the
// new log.
func (s *store) compact(now time.Time, liveOf func(p *klog.Partition, upTo int64) ([]kv, error)) (int64, error) {
	s.mu.Lock()
	old, closed, failed := s.p, s.closed, s.failed
	s.mu.Unlock()
	if closed {
		return 0, klog.ErrClosed
	}
	if failed != nil {
		return 0, failed
	}
	_, _, e1 := old.Offsets()
	if e1 > 0 {
		if err := old.WaitDurable(s.ctx, e1-1); err != nil {
			return 0, err
		}
	}
	live, err := liveOf(old, e1)
	if err != nil {
		return 0, err
	}
	cdir := filepath.Join(s.dir, compactDirName)
	if err := s.fs.RemoveAll(cdir); err != nil {
		return 0, fmt.Errorf("group: %w: %w", klog.ErrStorage, err)
	}
	np, err := klog.Open(cdir, offsetsTopic, 0, s.cfg, s.opts)
	if err != nil {
		return 0, err
	}
	abandon := func(err error) (int64, error) {
		np.Close()
		s.fs.RemoveAll(cdir)
		return 0, err
	}
	var last int64 = -1
	for len(live) > 0 {
		// Batches well under max.message.bytes.
		n, size := 0, 0
		for n < len(live) && (n == 0 || size+len(live[n].key)+len(live[n].value)+32 < s.cfg.MaxMessageBytes/2) {
			size += len(live[n].key) + len(live[n].value) + 32
			n++
		}
		b, err := encodeBatch(now, live[:n])
		if err == nil {
			var res klog.AppendResult
			res, err = np.Append(b)
			last = res.LastOffset
		}
		if err != nil {
			return abandon(err)
		}
		live = live[n:]
	}
	count := last + 1

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return abandon(klog.ErrClosed)
	}
	_, _, e2 := old.Offsets()
	if e2 > e1 {
		if err := old.WaitDurable(s.ctx, e2-1); err != nil {
			return abandon(err)
		}
		for off := e1; off < e2; {
			res, err := old.Read(off, 1<<20, true)
			if err == nil && len(res.Records) == 0 {
				err = fmt.Errorf("group: %w: no batch at offset %d below %d", klog.ErrStorage, off, e2)
			}
			if err != nil {
				return abandon(err)
			}
			err = records.Split(res.Records, func(h records.Header, b []byte) error {
				off = h.LastOffset() + 1
				if h.BaseOffset < e1 {
					return nil // before the tail (a batch never straddles e1)
				}
				r, err := np.Append(slices.Clone(b))
				last = r.LastOffset
				count += int64(h.NumRecords)
				return err
			})
			if err != nil {
				return abandon(err)
			}
		}
	}
	if last >= 0 {
		if err := np.WaitDurable(s.ctx, last); err != nil {
			return abandon(err)
		}
	}
	if err := np.Close(); err != nil {
		return abandon(err)
	}
	if err := s.fs.SyncDir(s.dir); err != nil {
		return abandon(fmt.Errorf("group: %w: %w", klog.ErrStorage, err))
	}
	// From here the old log is closed: a failure leaves the store without
	// a log (appends fail with ErrClosed) until the next open, which
	// finishes or rolls back the swap.
	fail := func(err error) (int64, error) {
		s.failed = fmt.Errorf("%w: %w", klog.ErrStorage, err)
		s.logger.Error("rewriting the offsets log failed midway; group requests will fail until restart", "err", err)
		return 0, err
	}
	if err := old.Close(); err != nil {
		return fail(err)
	}
	ldir := filepath.Join(s.dir, logDirName)
	odir := filepath.Join(s.dir, oldDirName)
	if err := s.fs.Rename(ldir, odir); err != nil {
		return fail(fmt.Errorf("group: %w: %w", klog.ErrStorage, err))
	}
	if err := s.fs.Rename(cdir, ldir); err != nil {
		return fail(fmt.Errorf("group: %w: %w", klog.ErrStorage, err))
	}
	if err := s.fs.SyncDir(s.dir); err != nil {
		return fail(fmt.Errorf("group: %w: %w", klog.ErrStorage, err))
	}
	if err := s.fs.RemoveAll(odir); err != nil && !errors.Is(err, os.ErrNotExist) {
		s.logger.Warn("could not remove the old offsets log", "dir", odir, "err", err)
	}
	p, err := klog.Open(ldir, offsetsTopic, 0, s.cfg, s.opts)
	if err != nil {
		return fail(err)
	}
	s.p = p
	s.records = count
	return count, nil
}
