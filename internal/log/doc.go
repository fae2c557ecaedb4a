// Package log is Chronik's storage engine: one append-only log per topic
// partition, stored as segment files, with Kafka's names and layout
// (LogSegment, OffsetIndex, TimeIndex, ProducerStateManager, recovery point).
//
// # The log is the WAL
//
// A produce's batches are validated, given offsets under the partition lock
// and written to the active segment file (Append). They become visible to
// readers, that is the high watermark (HW) passes them, only after an fsync
// covers them, and a produce with acks >= 1 is answered only then
// (WaitDurable(ctx, last): its argument is the last offset that must be
// durable; it returns once the HW is above it). There is no second,
// in-memory copy of pending batches: the syncer goroutine fsyncs whatever
// was written, so concurrent produces share one fsync (group commit). See
// docs/architecture.md, invariants 1-6.
//
// With Config.FlushInterval > 0 the user trades durability for latency: the
// HW follows the log end right after the write and fsyncs happen on a timer.
//
// # Files in a partition directory "<topic>-<partition>"
//
//	00000000000000000000.log        segment: batches, as produced
//	00000000000000000000.index      sparse offset index of that segment
//	00000000000000000000.timeindex  time index of that segment
//	00000000000000001234.log        next segment, base offset 1234 ...
//	00000000000000001234.snapshot   producer state below offset 1234
//	aborted-txns                    aborted transactions below the newest
//	                                snapshot (txn.go)
//	recovery-point                  where recovery starts scanning
//	log-start-offset                the log start offset (logstart.go)
//	cleaner-offset                  where the cleaner's dirty section starts
//	*.log.broken                    bytes cut from a corrupt tail (evidence)
//	*.tmp                           unfinished atomic writes (removed on Open)
//	*.deleted                       files of a segment that left the log,
//	                                removed after file.delete.delay.ms
//	*.cleaned, *.swap               a compacted segment being written or
//	                                swapped in (cleaner.go; Open finishes a
//	                                .swap and removes the rest)
//
// File names are the base offset, zero-padded to 20 digits, so they sort in
// log order. Every multi-byte integer below is big-endian. All layouts are
// part of the on-disk format.
//
// # Segment (.log)
//
// Record batches (magic 2) back to back, byte-identical to what the
// producer sent except baseOffset (assigned here) and partitionLeaderEpoch
// (0); neither is covered by the CRC, so the producer's CRC-32C stays valid
// (with LogAppendTime, maxTimestamp and the CRC are rewritten):
//
//	+------------+-------------+----------------------+-------+---------+-----
//	| baseOffset | batchLength | partitionLeaderEpoch | magic | crc     | ...
//	| int64      | int32       | int32                | int8  | uint32  |
//	+------------+-------------+----------------------+-------+---------+-----
//	 0            8             12                     16      17        21
//
// A segment is rolled when the next append would exceed segment.bytes, when
// its first append is older than segment.ms (or max.compaction.lag.ms for a
// compacted topic, if smaller), or when offsets would no longer fit the
// 32-bit relative offsets of the indexes.
//
// Offsets are contiguous in the active segment. A closed segment of a
// compacted topic may have gaps, between batches and between the records
// of a batch (whose base offset and last offset delta stay those the
// producer's batch was given), and batches without records; its last batch
// still ends where the next segment starts. Rebuilt batches carry a new
// CRC-32C; batches the cleaner does not change keep their bytes.
//
// # Offset index (.index)
//
// One 8-byte entry every index.interval.bytes of log, for the batch that
// starts there:
//
//	+------------------------------+--------------------+
//	| relativeOffset uint32        | position uint32    |
//	| batch baseOffset - segment   | byte offset of the |
//	| base offset                  | batch in the .log  |
//	+------------------------------+--------------------+
//
// Lookup: the last entry with relativeOffset <= target, then batch headers
// are read forward from its position.
//
// # Time index (.timeindex)
//
// 12-byte entries, added with offset index entries when the segment's
// largest timestamp grew, plus a final one when the segment is closed (roll
// or Close), so the last entry always holds the segment's max timestamp:
//
//	+-------------------------+---------------------------------------+
//	| timestamp int64         | relativeOffset uint32                 |
//	| largest timestamp so far| base offset of the batch that has it  |
//	+-------------------------+---------------------------------------+
//
// Indexes are caches of the log and carry no checksum: they are validated
// cheaply on Open (size, first and last entries, bounds) and rebuilt from
// the segment when missing or invalid. The active segment's indexes live
// in memory and are written to their files (opened for the purpose) when
// synced - on roll, before a recovery point, on Close - so an active
// segment holds one file descriptor; closed segments' indexes stay open on
// disk and are searched with ReadAt (a summary of one entry per 4 KiB page
// is kept after the first lookup).
//
// # Producer snapshot (<offset>.snapshot)
//
// The idempotence and transaction state after every batch below <offset>;
// written on roll and on Close (after the fsync that covers <offset>), the
// newest valid one <= the log end is loaded on Open and the batches after
// it are replayed (headers, and the record of each marker):
//
//	+---------------+------------+-------------+
//	| version int16 | crc uint32 | count int32 |  crc: CRC-32C of all that follows it
//	+---------------+------------+-------------+
//	count x +------------------+--------------+-------------------+------------------+
//	        | producerId int64 | epoch int16  | txnFirst int64    | batchCount int8  |
//	        +------------------+--------------+-------------------+------------------+
//	        batchCount x +----------------+---------------+-------------------+
//	                     | firstSeq int32 | lastSeq int32 | firstOffset int64 |
//	                     +----------------+---------------+-------------------+
//	                     | lastOffset int64 | maxTimestamp int64 | flags int8 |
//	                     +------------------+--------------------+------------+
//	                     flags bit 0: transactional
//
// Version 2. txnFirst is the first offset of the producer's open
// transaction, -1 when none. Version 1 (before transactions) has no
// txnFirst and is still read (no transaction open).
//
// # Transactions and the aborted-transactions file (aborted-txns)
//
// A producer's first transactional batch opens a transaction at its base
// offset; a marker (AppendMarker: a control batch, attributes
// transactional|control, base sequence -1, one record with key version 0 |
// type int16 (0 ABORT, 1 COMMIT) and value version 0 | coordinatorEpoch
// int32, see internal/records/control.go) ends it. The last stable offset
// is min(HW, first offset of every transaction whose marker is not below
// the HW), never below the log start; read_committed fetches stop there.
// Each ABORT marker that ends a transaction adds an aborted transaction
// (producer id, first offset, marker offset), kept in memory ordered by
// marker offset, and persisted in one file per partition:
//
//	+---------------+------------+-------------+
//	| version int16 | crc uint32 | count int32 |  version 1; crc: CRC-32C of all that follows it
//	+---------------+------------+-------------+
//	count x +------------------+---------------------+--------------------+
//	        | producerId int64 | firstOffset int64   | lastOffset int64   |
//	        +------------------+---------------------+--------------------+
//	        ordered by lastOffset (the ABORT marker's offset)
//
// It is rewritten whole (atomically) right before each snapshot at S, with
// the entries whose marker is below S and not below the log start: those
// markers are fsynced by then, and the file is durable before the snapshot
// is. Open loads it, keeps the entries with markers below the snapshot it
// loads, and re-derives the rest by replaying the tail after that
// snapshot, so the list is exactly what the recovered log implies (no
// entry for a lost marker, one for every durable one) without reading
// closed segments. Only a damaged file makes Open scan the log below the
// snapshot. Unlike Kafka's per-segment .txnindex (which also stores an LSO
// per entry, unused here), one small file needs no work when retention
// removes segments (entries below the log start are dropped at the next
// snapshot) or the cleaner replaces them (entries stay valid: markers are
// kept, and an entry whose records are gone filters nothing).
//
// # Recovery point (recovery-point)
//
//	+---------------+------------+-------------------+----------------+
//	| version int16 | crc uint32 | segmentBase int64 | position int64 |
//	+---------------+------------+-------------------+----------------+
//	| offset int64  | maxTimestamp int64 | maxTimestampOffset int64    |
//	+---------------+--------------------+-----------------------------+
//
// Everything before byte position of segment segmentBase (offsets below
// offset) is fsynced and valid, and so are the indexes of every earlier
// segment and that segment's index entries below position. It moves only
// after the fsync that covers it: on roll, on Close, and at most every few
// seconds from the syncer. Open scans only from there: after a clean Close
// nothing, after a crash the unsynced tail. Each scanned batch is checked
// (length, header, CRC-32C, offset continuity); at the first failure the
// segment is truncated, the cut bytes are kept in "<segment>.log.broken",
// later segments are set aside as .broken, and a warning says what was
// lost. Every durable write follows one order: write, fsync the file,
// rename, fsync the directory.
//
// # Log start offset (log-start-offset) and cleaner checkpoint (cleaner-offset)
//
//	+---------------+------------+--------------+
//	| version int16 | crc uint32 | offset int64 |  crc: CRC-32C of the offset
//	+---------------+------------+--------------+
//
// The log start offset is persisted before it is used (a restart never
// moves it back) and is never below the first segment's base: segments
// wholly below it are deleted, by a crash interrupted at the latest on Open.
// The cleaner checkpoint is only an optimisation: without it the next
// cleaning maps the whole log again.
//
// # Segment removal and replacement
//
// Retention and DeleteRecordsBefore remove segments from the start of the
// log (retention.go); the cleaner replaces closed segments by compacted
// ones (cleaner.go). Only segments that are closed, wholly below the HW and
// not the segment of the HW, synced point or log end qualify. Their files
// are renamed to .deleted and removed after file.delete.delay.ms; a read
// holds a reference on the segment it reads (segLife), so a segment's
// files are closed only when the delay has passed and no read uses it.
//
// # Locks
//
// Lock order, outer first:
//
//	maintenance.cleanMu  one cleaning of the partition at a time
//	maintenance.mu  removing or replacing segments (retention,
//	                DeleteRecordsBefore, the cleaner's swap), Close
//	Partition.mu    the append lock: Append, AppendMarker, roll, Close;
//	                producer state
//	Partition.cpMu  recovery-point writes (also taken by the syncer alone)
//	Partition.vmu   the view readers snapshot: segment list, log end, HW,
//	                synced point, failure, transactions (open, ending,
//	                aborted: txnView); held only briefly
//	indexFile.mu, segment.tsMu, maintenance.pmu   leaves
//
// Read, ReadCommittedInto, ReadSpan, LastStableOffset, AbortedTxns,
// Offsets, OffsetForTimestamp and MaxTimestamp take only vmu, briefly,
// then use ReadAt without locks, so they never wait behind a write or an
// fsync, and never read past the HW's byte position. A Span (ReadSpan: where
// whole batches are, for sendfile) holds its segment like a read in flight,
// until Release. The syncer never takes
// mu. A cleaning holds only cleanMu while it reads and writes, mu briefly
// to copy producer state, and maintenance.mu for its swap. Manager.mu is
// taken before, never inside, any partition lock.
package log
