// Package group is Chronik's group coordinator: Kafka's classic consumer
// group protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup) and the
// committed offsets of every group, kept durable in an internal log like
// Kafka's __consumer_offsets.
//
// It takes and returns plain Go structs; broker handlers translate Kafka
// requests to them and back. Errors are kerr values (the coordinator's
// errors are Kafka's own), possibly wrapped with a cause.
//
// # Groups
//
// Each group is a state machine, Kafka's GroupCoordinator step for step:
//
//	Empty ──join──▶ PreparingRebalance ──all rejoined / timeout──▶ CompletingRebalance
//	  ▲                  ▲    │                                       │ leader's SyncGroup
//	  │   nobody rejoined│    └───────────────────────────────┐       ▼ (stored durably)
//	  └──────────────────┼── member joins/leaves/expires ◀── Stable ◀─┘
//	                     └────────────────────────────────────┘
//	Empty ──DeleteGroups / offsets expired──▶ Dead
//
// A JoinGroup or SyncGroup that must wait returns a channel that is
// answered later; the broker waits on it on the connection's writer, so the
// connection's reader never blocks. Every wait ends: by the rebalance, by a
// timer, by a newer request of the same member, or by Close.
//
// Concurrency: one mutex per group guards all of its state. Timers
// (session, join, sync, pending member) re-take that mutex and check a
// sequence number they were armed with, so a timer that fired while being
// stopped does nothing. Lock order: Coordinator.mu, a group's mu, the
// store's mu, then the partition's locks (internal/log).
//
// # Offsets log
//
// The log is an internal/log Partition in <dir>/offsets ("__consumer_offsets"
// partition 0), holding record batches in Kafka's own __consumer_offsets
// schema (kmsg.OffsetCommitKey/Value, GroupMetadataKey/Value):
//
//	key   int16 version 1: group string, topic string, partition int32
//	value int16 version 3: offset int64, leader epoch int32, metadata string,
//	                       commit timestamp int64
//	      (version 1, for commits with an explicit expiry: offset, metadata,
//	       commit timestamp, expire timestamp)
//	key   int16 version 2: group string
//	value int16 version 3: protocol type, generation, protocol, leader,
//	                       current state timestamp, members (always empty:
//	                       members rejoin after a restart)
//
// A nil value is a tombstone: the offset, or the group and its offsets, is
// deleted. One request is one batch.
//
// The broker shows this log in Metadata as the internal topic
// __consumer_offsets with its one partition (not Kafka's default of 50),
// once the coordinator exists.
//
// Invariants: an OffsetCommit (and DeleteGroups, OffsetDelete, the leader's
// SyncGroup) is answered only after the fsync that covers its batch
// (invariant 1), and becomes visible to OffsetFetch only then (invariant 2):
// one goroutine applies durable batches to memory in log order, so memory
// is always a replay of a prefix of the log. Records are appended under the
// group's lock, so their order in the log is the order of decisions.
//
// Start-up replays the whole log, last record per key winning. When the log
// holds many more records than live keys, the live state is written to a
// fresh log (offsets.compact), fsynced and swapped in by renames and a
// directory fsync, the way Kafka's cleaner would compact the topic.
// Offsets expire after offsets.retention.minutes (see ExpireOffsets).
package group
