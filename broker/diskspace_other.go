//go:build !(linux || darwin || freebsd)

package broker

// diskSpace is unknown (-1, Kafka's UNKNOWN_VOLUME_BYTES) here.
func diskSpace(string) (total, usable int64) { return -1, -1 }
