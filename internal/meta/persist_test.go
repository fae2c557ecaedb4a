package meta

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chronik-stream/chronik/internal/vfs"
)

// fileWithState builds a file around state with a correct checksum, to
// test the checks behind the checksum.
func fileWithState(version int, state string) []byte {
	crc := crc32.Checksum([]byte(state), castagnoli)
	return fmt.Appendf(nil, `{"version":%d,"crc32c":%d,"state":%s}`+"\n", version, crc, state)
}

const (
	goodCluster = "MkU3OEVBNTcwNTJENDM2Qg"
	goodID1     = "9sMvUCfmTu2hmGvZ7ZR9GQ"
	goodID2     = "vB2hTXqrTLy4PfulTJDbuw"
)

// validFile returns the bytes of a store's file with a few topics.
func validFile(t testing.TB) []byte {
	t.Helper()
	m := vfs.NewMemFS()
	s, err := Open(m, memDir)
	if err != nil {
		t.Fatal(err)
	}
	s.CreateTopic("a", 1, nil, false)
	s.CreateTopic("b.c", 4, map[string]string{"retention.ms": "1000", "cleanup.policy": "compact,delete"}, false)
	s.NextProducerID()
	data, err := m.ReadFile(filepath.Join(memDir, fileName))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// openBytes opens a store whose file holds data.
func openBytes(t testing.TB, data []byte) (*Store, error) {
	t.Helper()
	m := vfs.NewMemFS()
	if err := m.MkdirAll(memDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := m.WriteFile(filepath.Join(memDir, fileName), data); err != nil {
		t.Fatal(err)
	}
	return Open(m, memDir)
}

func TestFileFormat(t *testing.T) {
	data := validFile(t)
	if !bytes.HasPrefix(data, []byte(`{"version":1,"crc32c":`)) || !bytes.HasSuffix(data, []byte("}\n")) || bytes.Count(data, []byte("\n")) != 1 {
		t.Fatalf("unexpected layout: %s", data)
	}
	s, err := openBytes(t, data)
	if err != nil {
		t.Fatal(err)
	}
	if got := encode(s.img); !bytes.Equal(got, data) {
		t.Fatalf("re-encoding differs:\n%s\n%s", got, data)
	}
	if tp, ok := s.Topic("b.c"); !ok || tp.Partitions != 4 || tp.Configs["cleanup.policy"] != "compact,delete" {
		t.Fatalf("topic b.c: %+v", tp)
	}
	if id, _ := s.NextProducerID(); id != producerIDBlockSize {
		t.Fatalf("producer id after reload %d, want %d", id, producerIDBlockSize)
	}
	// A hand-written file in the documented format loads.
	hand := fileWithState(1, `{"cluster_id":"`+goodCluster+`","producer_id_block_end":5000,"topics":[{"name":"x","id":"`+goodID1+`","partitions":2,"configs":{"segment.ms":"100"}},{"name":"y","id":"`+goodID2+`","partitions":1}]}`)
	s, err = openBytes(t, hand)
	if err != nil {
		t.Fatal(err)
	}
	if s.ClusterID() != goodCluster || len(s.Topics()) != 2 {
		t.Fatalf("hand-written file: %q %+v", s.ClusterID(), s.Topics())
	}
	if id, _ := s.NextProducerID(); id != 5000 {
		t.Fatalf("producer id %d, want 5000", id)
	}
}

// TestCorruptFile damages a good file in many ways: Open must refuse each
// with ErrCorrupt, never start empty.
func TestCorruptFile(t *testing.T) {
	good := validFile(t)
	topic := func(name, id string, partitions int) string {
		return fmt.Sprintf(`{"name":%q,"id":%q,"partitions":%d}`, name, id, partitions)
	}
	state := func(cluster string, pidEnd int, topics ...string) string {
		return fmt.Sprintf(`{"cluster_id":%q,"producer_id_block_end":%d,"topics":[%s]}`, cluster, pidEnd, strings.Join(topics, ","))
	}
	flip := func(i int) []byte {
		d := bytes.Clone(good)
		if i < 0 {
			i += len(d)
		}
		d[i] ^= 0x01
		return d
	}
	stateAt := bytes.Index(good, []byte(`"state":`)) + len(`"state":`)
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"zeros", make([]byte, len(good))},
		{"truncated to half", good[:len(good)/2]},
		{"truncated by two", good[:len(good)-2]},
		{"byte flipped in state", flip(stateAt + 20)},
		{"byte flipped near the end", flip(-5)},
		{"byte flipped in crc", flip(len(`{"version":1,"crc32c":`))},
		{"garbage", []byte("not json at all")},
		{"trailing data", append(bytes.Clone(good), "{}"...)},
		{"json array", []byte("[]")},
		{"no state", []byte(`{"version":1,"crc32c":0}`)},
		{"unknown top-level field", []byte(`{"version":1,"crc32c":0,"state":{},"extra":1}`)},
		{"future version", fileWithState(2, state(goodCluster, 0))},
		{"unknown state field", fileWithState(1, `{"cluster_id":"`+goodCluster+`","producer_id_block_end":0,"topics":[],"new":true}`)},
		{"bad cluster id", fileWithState(1, state("short", 0))},
		{"empty cluster id", fileWithState(1, state("", 0))},
		{"negative producer id mark", fileWithState(1, state(goodCluster, -1))},
		{"invalid topic name", fileWithState(1, state(goodCluster, 0, topic("a b", goodID1, 1)))},
		{"duplicate topic", fileWithState(1, state(goodCluster, 0, topic("a", goodID1, 1), topic("a", goodID2, 1)))},
		{"colliding topics", fileWithState(1, state(goodCluster, 0, topic("a.b", goodID1, 1), topic("a_b", goodID2, 1)))},
		{"duplicate id", fileWithState(1, state(goodCluster, 0, topic("a", goodID1, 1), topic("b", goodID1, 1)))},
		{"zero id", fileWithState(1, state(goodCluster, 0, topic("a", "AAAAAAAAAAAAAAAAAAAAAA", 1)))},
		{"bad id", fileWithState(1, state(goodCluster, 0, topic("a", "nope", 1)))},
		{"zero partitions", fileWithState(1, state(goodCluster, 0, topic("a", goodID1, 0)))},
		{"wrong type", fileWithState(1, `{"cluster_id":"`+goodCluster+`","producer_id_block_end":"0","topics":[]}`)},
	} {
		s, err := openBytes(t, tc.data)
		if err == nil {
			t.Errorf("%s: opened, with %d topics", tc.name, len(s.Topics()))
			continue
		}
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", tc.name, err)
		}
	}
}

// TestCorruptFileOnDisk: the same through the real filesystem, and the
// file is left alone for the operator to inspect.
func TestCorruptFileOnDisk(t *testing.T) {
	s, dir := openTemp(t)
	mustCreate(t, s, "t", 1, nil)
	path := filepath.Join(dir, fileName)
	data, _ := os.ReadFile(path)
	data[len(data)/2] ^= 0xff
	os.WriteFile(path, data, 0o644)
	if _, err := Open(vfs.OS, dir); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, data) {
		t.Fatal("Open changed a corrupt file")
	}
}

// checkLoaded verifies what a successful Open promises.
func checkLoaded(t *testing.T, s *Store) {
	if _, err := DecodeUUID(s.ClusterID()); err != nil {
		t.Fatalf("cluster id %q: %v", s.ClusterID(), err)
	}
	ids := map[[16]byte]bool{}
	for _, tp := range s.Topics() {
		if ValidateTopicName(tp.Name) != nil || tp.Partitions < 1 || tp.ID == zeroUUID || ids[tp.ID] {
			t.Fatalf("bad topic %+v", tp)
		}
		ids[tp.ID] = true
		if got, ok := s.TopicByID(tp.ID); !ok || got.Name != tp.Name {
			t.Fatalf("TopicByID(%s)", tp.Name)
		}
		DescribeTopicConfigs(tp, nil)
		EffectiveLogConfig(tp, nil)
	}
	again, err := decode(encode(s.img))
	if err != nil {
		t.Fatalf("re-encoded state does not load: %v", err)
	}
	if !bytes.Equal(encode(again), encode(s.img)) {
		t.Fatal("re-encoding is not stable")
	}
	if id, err := s.NextProducerID(); err == nil && id < s.img.pidBlockEnd-producerIDBlockSize {
		t.Fatalf("producer id %d below the mark", id)
	}
}

// FuzzLoad feeds random bytes to Open as the metadata file. Properties:
// Open never panics; it either fails or returns a store whose every topic
// is valid and whose state re-encodes to a file that loads the same.
func FuzzLoad(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("{}"))
	f.Add(validFile(f))
	f.Add(fileWithState(1, `{"cluster_id":"`+goodCluster+`","producer_id_block_end":0,"topics":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := openBytes(t, data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		checkLoaded(t, s)
	})
}

// FuzzLoadState is FuzzLoad behind a correct checksum, so the fuzzer
// reaches the JSON decoding and validation. Same properties.
func FuzzLoadState(f *testing.F) {
	f.Add([]byte(`{"cluster_id":"` + goodCluster + `","producer_id_block_end":0,"topics":[]}`))
	f.Add([]byte(`{"cluster_id":"` + goodCluster + `","producer_id_block_end":9223372036854775807,"topics":[{"name":"x","id":"` + goodID1 + `","partitions":2,"configs":{"segment.ms":"100","retention.ms":"x"}}]}`))
	f.Add([]byte(`{"cluster_id":"` + goodCluster + `","producer_id_block_end":1,"topics":[{"name":"a.b","id":"` + goodID1 + `","partitions":1},{"name":"a_b","id":"` + goodID2 + `","partitions":1}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, state []byte) {
		crc := crc32.Checksum(state, castagnoli)
		data := fmt.Appendf(nil, `{"version":1,"crc32c":%d,"state":%s}`, crc, state)
		s, err := openBytes(t, data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		checkLoaded(t, s)
	})
}
