// Package meta owns the cluster metadata: topics, their ids, partition
// counts and config overrides, the cluster id, and the producer id
// high-water mark. It also holds Kafka's topic and broker config tables
// (configs.go): names, types, defaults, validation, DescribeConfigs entries
// and the effective values the log layer uses.
//
// # On disk
//
// Everything lives in one file, <dir>/meta.json, replaced whole on every
// change: write meta.json.tmp, fsync it, rename it over meta.json, fsync
// the directory. A crash leaves the old file or the new one; a leftover
// meta.json.tmp is an unfinished write and is deleted by Open.
//
// The file is one JSON object on one line plus a newline:
//
//	{"version":1,"crc32c":<uint32>,"state":<state>}
//
// version is the format version (this package reads 1 and refuses others);
// crc32c is the CRC-32C (Castagnoli) of the exact bytes of <state> as they
// appear in the file. <state> is (indented here for reading):
//
//	{
//	 "cluster_id": "<22 chars base64url of 16 random bytes>",
//	 "producer_id_block_end": <int64>,
//	 "topics": [
//	  {"name": "<name>", "id": "<22 chars base64url>", "partitions": <int32>,
//	   "configs": {"<topic config>": "<value>", ...}},   // overrides; omitted when none
//	  ...
//	 ]
//	}
//
// with topics sorted by name. Unknown fields, a bad checksum, a bad
// cluster id or topic id, an invalid or colliding topic name, a duplicate
// id or fewer than one partition make Open fail with ErrCorrupt: metadata
// is never silently reset.
//
// # Producer ids
//
// producer_id_block_end is exclusive: no id at or above it was handed out.
// NextProducerID hands out ids below it from memory; when they run out it
// first persists a mark 1000 higher. Open resumes at the mark, so ids are
// never reused even after kill -9 (at most one block is skipped).
//
// # Concurrency
//
// A Store is guarded by one RWMutex. Changes hold it across the file
// write, so the file's order is the order of changes; reads take it
// shared and return copies.
package meta
