package diff

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// What legitimately differs between two brokers, and how it is normalised:
//
//   - ThrottleMillis, UnknownTags, Port: dropped.
//   - ClusterID, ErrorMessage, Documentation: only whether set ("<set>", ""
//     or null) is compared; the texts differ.
//   - TopicID: shown as {name} when it is the broker's id of a case topic,
//     "<zero-id>" when zero, "<other-id>" otherwise.
//   - ProducerID: "<pid>" when >= 0 (ids are allocated per broker).
//   - Topic names: the per-run prefix is stripped and the name shown as {name}.
//   - Fetched record batches: decoded; PartitionLeaderEpoch and the CRC are
//     left out (the CRC follows from the compared fields); a transaction
//     marker's timestamps are "<marker-time>" (the coordinator's clock).
//   - Arrays of objects with an identity field (Topic, Name, Partition,
//     NodeID, ...) are compared by that key, not by position.
//   - Error codes are shown with their names.
//   - Group member ids (MemberID, LeaderID): "<member>" when set.
var (
	dropKeys = map[string]bool{"ThrottleMillis": true, "UnknownTags": true, "Port": true}
	setKeys  = map[string]bool{"ClusterID": true, "ErrorMessage": true, "Documentation": true}
	idKeys   = []string{"Topic", "TopicID", "Name", "Partition", "NodeID", "ResourceName", "ApiKey", "Key", "Group"}
	// memberKeys hold group member ids, generated per broker.
	memberKeys = map[string]bool{"MemberID": true, "LeaderID": true, "Leader": true}
)

// normalise turns a response into a tree of maps, slices and scalars ready
// for comparison.
func normalise(b *target, prefix string, resp kmsg.Response) any {
	raw, err := json.Marshal(resp)
	if err != nil {
		return map[string]any{"MarshalError": err.Error()}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return map[string]any{"MarshalError": err.Error()}
	}
	n := normaliser{b: b, prefix: prefix}
	return n.walk("", tree)
}

type normaliser struct {
	b      *target
	prefix string
}

func (n normaliser) walk(key string, v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			switch {
			case dropKeys[k]:
				continue
			case setKeys[k]:
				switch e {
				case nil:
					out[k] = nil
				case "":
					out[k] = "" // set, but empty
				default:
					out[k] = "<set>"
				}
				continue
			case memberKeys[k] && isString(e) && e != "":
				out[k] = "<member>"
				continue
			case k == "TopicID":
				out[k] = n.topicID(e)
				continue
			case k == "LogAppendTime":
				if num, ok := e.(json.Number); ok {
					if i, _ := num.Int64(); isNow(i) {
						out[k] = "<now>" // the broker's clock
						continue
					}
				}
			case k == "ProducerID":
				if num, ok := e.(json.Number); ok {
					if i, _ := num.Int64(); i >= 0 {
						out[k] = "<pid>"
						continue
					}
				}
			case (k == "RecordBatches" || k == "Records") && isString(e):
				out[k] = decodeBatches(n, e.(string))
				continue
			case strings.HasSuffix(k, "ErrorCode"):
				if num, ok := e.(json.Number); ok {
					out[k] = errName(num)
					continue
				}
			}
			out[k] = n.walk(k, e)
		}
		return out
	case []any:
		elems := make([]any, len(x))
		for i, e := range x {
			elems[i] = n.walk(key, e)
		}
		if m := keyed(elems); m != nil {
			return m
		}
		return elems
	case string:
		return n.name(x)
	}
	return v
}

func (n normaliser) name(s string) string {
	if strings.HasPrefix(s, n.prefix) {
		return "{" + strings.TrimPrefix(s, n.prefix) + "}"
	}
	return s
}

func (n normaliser) topicID(e any) any {
	arr, ok := e.([]any)
	if !ok || len(arr) != 16 {
		return e
	}
	var id [16]byte
	for i, x := range arr {
		num, _ := x.(json.Number)
		d, _ := num.Int64()
		id[i] = byte(d)
	}
	if id == ([16]byte{}) {
		return "<zero-id>"
	}
	if name, ok := n.b.topicName(id); ok {
		return "{" + name + "}"
	}
	return "<other-id>"
}

// isNow reports whether a millisecond timestamp is the broker's clock (within
// a day of ours), as opposed to a timestamp the test chose.
func isNow(ms int64) bool {
	d := time.Since(time.UnixMilli(ms))
	return d < 24*time.Hour && d > -24*time.Hour
}

func isString(v any) bool { _, ok := v.(string); return ok }

func errName(num json.Number) string {
	c, _ := num.Int64()
	if c == 0 {
		return "0"
	}
	if err := kerr.ErrorForCode(int16(c)); err != nil {
		if ke, ok := err.(*kerr.Error); ok {
			return fmt.Sprintf("%d %s", c, ke.Message)
		}
	}
	return num.String()
}

// keyed turns a slice of objects that share a unique identity field into a
// map keyed "[value]", so they are compared by identity, not position.
func keyed(elems []any) map[string]any {
	if len(elems) == 0 {
		return nil
	}
	for _, k := range idKeys {
		out := make(map[string]any, len(elems))
		ok := true
		for _, e := range elems {
			m, isMap := e.(map[string]any)
			if !isMap {
				return nil
			}
			val, has := m[k]
			if !has || val == nil || val == "" {
				ok = false
				break
			}
			s := "[" + scalar(val) + "]"
			if _, dup := out[s]; dup {
				ok = false
				break
			}
			out[s] = e
		}
		if ok {
			return out
		}
	}
	return nil
}

func scalar(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case nil:
		return "null"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// decodeBatches decodes fetched record batches (base64 in the JSON form).
func decodeBatches(n normaliser, s string) any {
	if s == "" {
		return []any{}
	}
	data, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return "undecodable: " + err.Error()
	}
	var out []any
	for len(data) >= 17 {
		length := int32(binary.BigEndian.Uint32(data[8:12]))
		end := 12 + int(length)
		if length <= 0 || end > len(data) {
			break // a partial trailing batch: cut by max bytes
		}
		magic := int8(data[16])
		if magic != 2 {
			out = append(out, map[string]any{"Magic": magic, "Bytes": end})
			data = data[end:]
			continue
		}
		var b kmsg.RecordBatch
		if err := b.ReadFrom(data[:end]); err != nil {
			out = append(out, map[string]any{"DecodeError": err.Error()})
			break
		}
		m := map[string]any{
			"FirstOffset":     b.FirstOffset,
			"Length":          b.Length,
			"Magic":           b.Magic,
			"Attributes":      b.Attributes,
			"LastOffsetDelta": b.LastOffsetDelta,
			"FirstTimestamp":  b.FirstTimestamp,
			"MaxTimestamp":    b.MaxTimestamp,
			"ProducerID":      pidString(b.ProducerID),
			"ProducerEpoch":   b.ProducerEpoch,
			"FirstSequence":   b.FirstSequence,
			"NumRecords":      b.NumRecords,
			"CRCValid":        crcOK(data[:end]),
		}
		if b.Attributes&0x8 != 0 { // LogAppendTime: the broker's clock
			m["MaxTimestamp"] = "<log-append-time>"
		}
		if b.Attributes&0x20 != 0 { // a transaction marker: the coordinator's clock
			m["FirstTimestamp"], m["MaxTimestamp"] = "<marker-time>", "<marker-time>"
		}
		rb := b.Records
		if b.Attributes&0x7 == 1 {
			zr, err := gzip.NewReader(bytes.NewReader(rb))
			if err == nil {
				rb, err = io.ReadAll(zr)
			}
			if err != nil {
				m["Records"] = "gunzip: " + err.Error()
				rb = nil
			}
		}
		if b.Attributes&0x7 <= 1 && rb != nil { // uncompressed or gzip: decode the records
			var recs []any
			for i := int32(0); i < b.NumRecords && len(rb) > 0; i++ {
				l, nb := binary.Varint(rb)
				if nb <= 0 || int(l)+nb > len(rb) {
					recs = append(recs, "truncated")
					break
				}
				var r kmsg.Record
				if err := r.ReadFrom(rb[:nb+int(l)]); err != nil {
					recs = append(recs, "bad record: "+err.Error())
					break
				}
				hdrs := []any{}
				for _, h := range r.Headers {
					hdrs = append(hdrs, h.Key+"="+string(h.Value))
				}
				recs = append(recs, map[string]any{
					"OffsetDelta":    r.OffsetDelta,
					"TimestampDelta": r.TimestampDelta64,
					"Key":            bytesString(r.Key),
					"Value":          bytesString(r.Value),
					"Headers":        hdrs,
				})
				rb = rb[nb+int(l):]
			}
			m["Records"] = recs
		}
		out = append(out, m)
		data = data[end:]
	}
	if out == nil {
		return []any{}
	}
	return out
}

func pidString(pid int64) any {
	if pid >= 0 {
		return "<pid>"
	}
	return pid
}

func bytesString(b []byte) any {
	if b == nil {
		return nil
	}
	if len(b) > 64 {
		return fmt.Sprintf("<%d bytes>", len(b))
	}
	return string(b)
}

// --- comparison ----------------------------------------------------------------

// compare lists the differences between two normalised trees.
func compare(step, path string, k, c any) []Diff {
	km, kIsMap := k.(map[string]any)
	cm, cIsMap := c.(map[string]any)
	if kIsMap && cIsMap {
		keys := map[string]bool{}
		for x := range km {
			keys[x] = true
		}
		for x := range cm {
			keys[x] = true
		}
		sorted := make([]string, 0, len(keys))
		for x := range keys {
			sorted = append(sorted, x)
		}
		sort.Strings(sorted)
		var out []Diff
		for _, x := range sorted {
			p := joinPath(path, x)
			kv, kok := km[x]
			cv, cok := cm[x]
			switch {
			case !kok:
				out = append(out, Diff{Step: step, Path: p, Kafka: "<absent>", Chronik: short(cv)})
			case !cok:
				out = append(out, Diff{Step: step, Path: p, Kafka: short(kv), Chronik: "<absent>"})
			default:
				out = append(out, compare(step, p, kv, cv)...)
			}
		}
		return out
	}
	ka, kIsArr := k.([]any)
	ca, cIsArr := c.([]any)
	if kIsArr && cIsArr {
		var out []Diff
		if len(ka) != len(ca) {
			out = append(out, Diff{Step: step, Path: path + ".len", Kafka: strconv.Itoa(len(ka)), Chronik: strconv.Itoa(len(ca))})
		}
		for i := 0; i < len(ka) && i < len(ca); i++ {
			out = append(out, compare(step, fmt.Sprintf("%s[%d]", path, i), ka[i], ca[i])...)
		}
		for i := len(ca); i < len(ka); i++ {
			out = append(out, Diff{Step: step, Path: fmt.Sprintf("%s[%d]", path, i), Kafka: short(ka[i]), Chronik: "<absent>"})
		}
		for i := len(ka); i < len(ca); i++ {
			out = append(out, Diff{Step: step, Path: fmt.Sprintf("%s[%d]", path, i), Kafka: "<absent>", Chronik: short(ca[i])})
		}
		return out
	}
	// A keyed map against an empty or unkeyed slice, or scalars.
	if short(k) != short(c) {
		return []Diff{{Step: step, Path: path, Kafka: short(k), Chronik: short(c)}}
	}
	return nil
}

func joinPath(path, key string) string {
	if strings.HasPrefix(key, "[") || path == "" {
		return path + key
	}
	return path + "." + key
}

func short(v any) string {
	s := jsonString(v)
	if n, ok := v.(json.Number); ok {
		s = n.String()
	}
	if str, ok := v.(string); ok {
		s = str
	}
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// --- accepted differences ---------------------------------------------------

// Accepted is a known difference that does not fail a case. Case, Step and
// Path are glob patterns ('*' matches any run of characters); Path is
// matched against the reported path, e.g. "Topics[{t}].ErrorCode".
type Accepted struct {
	Case, Step, Path string
	Kafka, Chronik   string
	WhileMissing     string
	MinKafka         string
	Reason           string
}

// kafkaVersion is the Kafka release compared with (CHRONIK_DIFF_KAFKA_VERSION,
// set by scripts/diff.sh; "" if unknown).
var kafkaVersion = os.Getenv("CHRONIK_DIFF_KAFKA_VERSION")

// versionLess compares dotted versions numerically ("4.1.2" < "4.2").
func versionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}

// chronikAPIs is the set of API names Chronik advertises (set by TestDiff).
var chronikAPIs = map[string]bool{}

func (a Accepted) matches(caseName string, d Diff) bool {
	if a.WhileMissing != "" && chronikAPIs[a.WhileMissing] {
		return false
	}
	if a.MinKafka != "" && kafkaVersion != "" && versionLess(kafkaVersion, a.MinKafka) {
		return false
	}
	return globMatch(a.Case, caseName) && globMatch(a.Step, d.Step) && globMatch(a.Path, d.Path) &&
		globMatch(a.Kafka, d.Kafka) && globMatch(a.Chronik, d.Chronik)
}

func acceptedReason(caseName string, d Diff) string {
	for _, a := range accepted {
		if a.matches(caseName, d) {
			return a.Reason
		}
	}
	return ""
}

// globMatch matches s against a pattern where '*' matches any run of
// characters (including none) and everything else is literal.
func globMatch(pattern, s string) bool {
	if pattern == "" {
		pattern = "*"
	}
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return s == pattern
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for i := 1; i < len(parts)-1; i++ {
		idx := strings.Index(s, parts[i])
		if idx < 0 {
			return false
		}
		s = s[idx+len(parts[i]):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}
