// Package txn is the transaction coordinator of a single node (Kafka's
// TransactionCoordinator, much reduced): it owns the state of every
// transactional id, persists it in an internal log, and ends transactions
// by writing COMMIT or ABORT markers to the partitions they touched.
//
// # State
//
// Per transactional id: the producer id and epoch handed out by
// InitProducerId, the transaction timeout, the state (Kafka's Empty,
// Ongoing, PrepareCommit, PrepareAbort, CompleteCommit, CompleteAbort,
// Dead, PrepareEpochFence), the partitions and groups added to the ongoing
// transaction and the offsets committed in it (TxnOffsetCommit), which
// become the group's committed offsets only when the transaction commits.
//
// # Durability
//
// Every change of state is appended to the state log (<dir>/
// __transaction_state-0, a compacted log keyed by transactional id, opened
// through an internal/log Manager so the cleaner keeps it small) and waited
// on until it is fsynced before the request that caused it is answered or
// anything follows from it. Ending a transaction is:
//
//  1. PrepareCommit / PrepareAbort, with the partitions, groups and pending
//     offsets, made durable: from here the outcome is decided;
//  2. a marker appended to every partition of the transaction and waited on
//     until durable; on commit, the pending offsets written to the group
//     coordinator (durable);
//  3. CompleteCommit / CompleteAbort made durable.
//
// A crash between 1 and 3 is finished at start-up by redoing 2 (a second
// marker for a producer with no open transaction on a partition is
// harmless; offsets are idempotent). A transaction found Ongoing at
// start-up is aborted when its timeout expires, as any other. So after a
// kill -9 at any point, every partition's markers agree with the decision
// in the state log, and a transaction whose EndTxn was answered is complete.
//
// # Produce verification
//
// A transactional produce holds a Guard (a read lock on the transaction)
// from the check that its partitions are in the ongoing transaction with the
// producer's epoch until its batches are appended. Ending the transaction
// takes the write lock, so no batch can land after the transaction's marker
// on a partition (which would leave the partition's last stable offset stuck
// behind a transaction that never ends). This is KIP-890 part 1's server
// side verification, done in process.
//
// Lock order: a transaction's mu, then Coordinator.mu (the table's lock is
// never held while waiting for a transaction's), and a transaction's mu
// before partition locks (inside internal/log). Nothing in the log calls
// back into this package. A change to a transaction is made in memory,
// persisted, and undone if the write fails, so memory never runs ahead of
// the state log.
package txn
