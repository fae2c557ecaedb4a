package meta

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"maps"
	"strings"
)

// Topic is one topic's metadata.
type Topic struct {
	Name string
	// ID is a random (version 4) UUID, never all zero, never reused.
	ID         [16]byte
	Partitions int32
	// Configs holds the topic-level overrides only (DYNAMIC_TOPIC_CONFIG);
	// see EffectiveLogConfig and DescribeTopicConfigs for effective values.
	Configs map[string]string
}

// clone returns a deep copy of t whose Configs map is never nil.
func (t Topic) clone() Topic {
	c := t
	c.Configs = make(map[string]string, len(t.Configs))
	maps.Copy(c.Configs, t.Configs)
	return c
}

// maxTopicNameLength is Kafka's limit: 255 minus room for a partition
// directory's "-<partition>" suffix and a ".delete"-style marker.
const maxTopicNameLength = 249

// ValidateTopicName checks name against Kafka's rules (Topic.validate): not
// empty, not "." or "..", at most 249 characters of [a-zA-Z0-9._-].
func ValidateTopicName(name string) error {
	switch {
	case name == "":
		return errorf(ErrInvalidTopic, "Topic name is illegal, it can't be empty")
	case name == "." || name == "..":
		return errorf(ErrInvalidTopic, "Topic name cannot be \".\" or \"..\"")
	case len(name) > maxTopicNameLength:
		return errorf(ErrInvalidTopic, "Topic name is illegal, it can't be longer than %d characters, topic name: %s", maxTopicNameLength, name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return errorf(ErrInvalidTopic, "Topic name %q is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'", name)
		}
	}
	return nil
}

// collisionKey maps a topic name to the name its metrics would use: Kafka
// replaces '.' with '_' there, so two topics differing only in those
// characters cannot coexist.
func collisionKey(name string) string { return strings.ReplaceAll(name, ".", "_") }

// Kafka's reserved UUIDs: all zero (no id) and 1 (the metadata topic).
var (
	zeroUUID         [16]byte
	metadataTopicID  = [16]byte{15: 1}
	uuidEncoding     = base64.RawURLEncoding
	encodedUUIDChars = uuidEncoding.EncodedLen(16) // 22
)

// newUUID returns a random version-4 UUID the way Kafka's Uuid.randomUuid
// does: never one of the reserved ids, and never one whose base64 form
// starts with '-' (it would read as a command-line flag).
func newUUID() [16]byte {
	for {
		var u [16]byte
		rand.Read(u[:]) // never fails (crypto/rand since Go 1.24)
		u[6] = u[6]&0x0f | 0x40
		u[8] = u[8]&0x3f | 0x80
		if u != zeroUUID && u != metadataTopicID && u[0]>>2 != 62 { // 62 encodes as '-'
			return u
		}
	}
}

// EncodeUUID returns Kafka's string form of a UUID: 22 characters of
// unpadded base64url.
func EncodeUUID(u [16]byte) string { return uuidEncoding.EncodeToString(u[:]) }

// DecodeUUID parses Kafka's string form of a UUID.
func DecodeUUID(s string) ([16]byte, error) {
	var u [16]byte
	if len(s) != encodedUUIDChars {
		return u, fmt.Errorf("meta: uuid %q: want %d characters", s, encodedUUIDChars)
	}
	b, err := uuidEncoding.DecodeString(s)
	if err != nil || len(b) != 16 {
		return u, fmt.Errorf("meta: uuid %q: not base64url", s)
	}
	copy(u[:], b)
	// Reject non-canonical forms (stray bits in the last character), so
	// that a decoded id encodes back to the same string.
	if EncodeUUID(u) != s {
		return u, fmt.Errorf("meta: uuid %q: not canonical", s)
	}
	return u, nil
}

// newClusterID returns a cluster id as Kafka generates one.
func newClusterID() string { return EncodeUUID(newUUID()) }

// ValidateReplicationFactor checks a CreateTopics replication factor against
// the number of brokers, with Kafka's messages. -1 means the default.
func ValidateReplicationFactor(rf int16, brokers int) error {
	if rf == 0 || rf < -1 {
		return errorf(ErrInvalidReplicationFactor, "Replication factor must be larger than 0, or -1 to use the default value.")
	}
	if int(rf) > brokers {
		return errorf(ErrInvalidReplicationFactor, "Unable to replicate the partition %d time(s): The target replication factor of %d cannot be reached because only %d broker(s) are registered.", rf, rf, brokers)
	}
	return nil
}
