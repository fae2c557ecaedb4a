package main

// chronik start --config FILE (or CHRONIK_CONFIG): settings from a file.
//
// Precedence is flag > environment variable > file > default: a file value
// is applied only to a flag that was neither given on the command line
// (flag.FlagSet.Visit) nor has a non-empty environment variable.
//
// Keys are Kafka broker config names where Kafka has one (log.dirs,
// node.id, num.partitions, listeners, ...) and start's flag names for
// Chronik's own settings (kafka-port, metrics-port, fsync, ...). Kafka keys
// that are not a start flag (log.retention.hours, log.segment.bytes,
// group.*, offsets.*, ...) become broker.Config.BrokerConfigs. An unknown
// key or an invalid value stops start-up with an error naming the file,
// line and key.
//
// The file format is the flat subset of TOML that such a file needs:
//
//	# comment
//	key = "string"          # basic string: \" \\ \n \t \uXXXX escapes
//	key = 'literal string'  # no escapes
//	key = 42                # integer (1_000 allowed), float, true, false
//	key = ["a", "b"]        # one-line array, joined with "," (Kafka lists)
//	[section]               # later keys are "section.key"
//
// Keys may be bare (letters, digits, '.', '-', '_') or quoted. Not
// supported (an error, never silently misread): multi-line strings and
// arrays, inline tables, dates, array tables ([[x]]).

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chronik-stream/chronik/broker"
	"github.com/chronik-stream/chronik/internal/meta"
)

// fileEntry is one key = value of a config file.
type fileEntry struct {
	value string // in Kafka's string form: lists comma-joined
	line  int
}

// parseConfigFile reads the flat TOML subset described above.
func parseConfigFile(r io.Reader, name string) (map[string]fileEntry, error) {
	out := map[string]fileEntry{}
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	prefix := ""
	for n := 1; sc.Scan(); n++ {
		fail := func(format string, args ...any) error {
			return fmt.Errorf("%s:%d: %s", name, n, fmt.Sprintf(format, args...))
		}
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		if line[0] == '[' {
			if strings.HasPrefix(line, "[[") {
				return nil, fail("arrays of tables ([[...]]) are not supported")
			}
			end := strings.IndexByte(line, ']')
			if end < 0 {
				return nil, fail("unterminated section header")
			}
			if rest := strings.TrimSpace(line[end+1:]); rest != "" && rest[0] != '#' {
				return nil, fail("unexpected %q after the section header", rest)
			}
			sec := strings.TrimSpace(line[1:end])
			if sec == "" {
				return nil, fail("empty section header")
			}
			key, rest, err := parseKey(sec)
			if err != nil || rest != "" {
				return nil, fail("bad section name %q", sec)
			}
			prefix = key + "."
			continue
		}
		key, rest, err := parseKey(line)
		if err != nil {
			return nil, fail("%v", err)
		}
		rest = strings.TrimSpace(rest)
		if !strings.HasPrefix(rest, "=") {
			return nil, fail("want key = value")
		}
		value, rest, err := parseValue(strings.TrimSpace(rest[1:]))
		if err != nil {
			return nil, fail("%s: %v", key, err)
		}
		if rest = strings.TrimSpace(rest); rest != "" && rest[0] != '#' {
			return nil, fail("%s: unexpected %q after the value", key, rest)
		}
		key = prefix + key
		if prev, ok := out[key]; ok {
			return nil, fail("%s set twice (first on line %d)", key, prev.line)
		}
		out[key] = fileEntry{value: value, line: n}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

func isBareKeyChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_'
}

// parseKey reads a bare or quoted key from the start of s.
func parseKey(s string) (key, rest string, err error) {
	if s != "" && (s[0] == '"' || s[0] == '\'') {
		k, rest, err := parseString(s)
		if err != nil {
			return "", "", err
		}
		if k == "" {
			return "", "", errors.New("empty key")
		}
		return k, rest, nil
	}
	i := 0
	for i < len(s) && isBareKeyChar(s[i]) {
		i++
	}
	if i == 0 {
		return "", "", fmt.Errorf("want a key, got %q", s)
	}
	return s[:i], s[i:], nil
}

// parseValue reads one value from the start of s: a string, a number, a
// boolean or a one-line array of those.
func parseValue(s string) (value, rest string, err error) {
	if s == "" {
		return "", "", errors.New("missing value")
	}
	switch s[0] {
	case '"', '\'':
		return parseString(s)
	case '[':
		var parts []string
		rest := strings.TrimSpace(s[1:])
		for {
			if strings.HasPrefix(rest, "]") {
				return strings.Join(parts, ","), rest[1:], nil
			}
			if rest == "" || rest[0] == '#' {
				return "", "", errors.New("arrays must be on one line")
			}
			if rest[0] == '[' {
				return "", "", errors.New("nested arrays are not supported")
			}
			v, r, err := parseValue(rest)
			if err != nil {
				return "", "", err
			}
			parts = append(parts, v)
			rest = strings.TrimSpace(r)
			if strings.HasPrefix(rest, ",") {
				rest = strings.TrimSpace(rest[1:])
			} else if !strings.HasPrefix(rest, "]") {
				return "", "", errors.New("want , or ] in the array")
			}
		}
	case '{':
		return "", "", errors.New("inline tables are not supported")
	}
	end := strings.IndexAny(s, " \t#,]")
	if end < 0 {
		end = len(s)
	}
	word := s[:end]
	switch {
	case word == "true" || word == "false":
		return word, s[end:], nil
	case isNumber(word):
		return strings.ReplaceAll(strings.TrimPrefix(word, "+"), "_", ""), s[end:], nil
	}
	return "", "", fmt.Errorf("%q is not a string, number or boolean (quote strings)", word)
}

func isNumber(w string) bool {
	if w == "" || strings.Trim(w, "0123456789+-._eE") != "" || !strings.ContainsAny(w, "0123456789") {
		return false
	}
	if strings.HasPrefix(w, "_") || strings.HasSuffix(w, "_") || strings.Contains(w, "__") {
		return false
	}
	_, err := strconv.ParseFloat(strings.ReplaceAll(w, "_", ""), 64)
	return err == nil
}

// parseString reads a basic ("...") or literal ('...') string.
func parseString(s string) (value, rest string, err error) {
	q := s[0]
	if strings.HasPrefix(s, `"""`) || strings.HasPrefix(s, "'''") {
		return "", "", errors.New("multi-line strings are not supported")
	}
	if q == '\'' {
		end := strings.IndexByte(s[1:], '\'')
		if end < 0 {
			return "", "", errors.New("unterminated string")
		}
		return s[1 : 1+end], s[2+end:], nil
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			return b.String(), s[i+1:], nil
		case '\\':
			if i+1 >= len(s) {
				return "", "", errors.New("unterminated string")
			}
			i++
			switch s[i] {
			case '"', '\\':
				b.WriteByte(s[i])
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'u':
				if i+4 >= len(s) {
					return "", "", errors.New("bad \\u escape")
				}
				r, err := strconv.ParseUint(s[i+1:i+5], 16, 32)
				if err != nil {
					return "", "", errors.New("bad \\u escape")
				}
				b.WriteRune(rune(r))
				i += 4
			default:
				return "", "", fmt.Errorf("unsupported escape \\%c", s[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", "", errors.New("unterminated string")
}

// kafkaKeys maps start's flags to their Kafka broker config names; every
// other flag's file key is its own name. unit converts between the two
// forms where they differ (Kafka's milliseconds, the flag's durations).
var kafkaKeys = map[string]struct {
	key  string
	unit string // "" or "ms"
}{
	"data-dir":                       {"log.dirs", ""},
	"node-id":                        {"node.id", ""},
	"auto-create-topics":             {"auto.create.topics.enable", ""},
	"num-partitions":                 {"num.partitions", ""},
	"listener":                       {"listeners", ""},
	"advertised-listener":            {"advertised.listeners", ""},
	"listener-security-protocol-map": {"listener.security.protocol.map", ""},
	"tls-client-auth":                {"ssl.client.auth", ""},
	"sasl-mechanisms":                {"sasl.enabled.mechanisms", ""},
	"connections-max-reauth":         {"connections.max.reauth.ms", "ms"},
	"connections-max-idle":           {"connections.max.idle.ms", "ms"},
	"max-connections":                {"max.connections", ""},
	"max-connections-per-ip":         {"max.connections.per.ip", ""},
	"super-users":                    {"super.users", ""},
	"allow-everyone-if-no-acl-found": {"allow.everyone.if.no.acl.found", ""},
}

// envNames are the environment variables of flags whose name does not
// give it (CHRONIK_ + upper case, - as _).
var envNames = map[string]string{
	"listener":            "CHRONIK_LISTENERS",
	"advertised-listener": "CHRONIK_ADVERTISED_LISTENERS",
}

// extraBrokerKeys are broker configs the broker reads that DescribeConfigs
// does not list.
var extraBrokerKeys = []string{
	"offset.metadata.max.bytes", "offsets.topic.segment.bytes", "max.connections.per.ip.overrides",
	"queued.max.request.bytes", "sasl.server.max.receive.size", "connection.failed.authentication.delay.ms",
	"authorizer.class.name",
}

// derivedKeys are Kafka configs Chronik derives from another setting: a
// file may not set them.
var derivedKeys = map[string]string{
	"broker.id":     "node.id",
	"log.dir":       "log.dirs",
	"process.roles": "",
}

func envName(flagName string) string {
	if e, ok := envNames[flagName]; ok {
		return e
	}
	return "CHRONIK_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// fileKey is the config file key of a flag.
func fileKey(flagName string) string {
	if k, ok := kafkaKeys[flagName]; ok {
		return k.key
	}
	return flagName
}

func knownBrokerKey(k string) bool {
	if slices.Contains(extraBrokerKeys, k) {
		return true
	}
	for _, e := range meta.DescribeBrokerConfigs(nil) {
		if e.Name == k {
			return true
		}
	}
	return false
}

// fileConfig is what a config file contributed; nil without a file.
type fileConfig struct {
	path string
	// fromFile are the flags the file set.
	fromFile map[string]bool
	// brokerConfigs are the file's Kafka keys that are not flags.
	brokerConfigs map[string]string
	// keys are the file keys of brokerConfigs and fromFile, with values as
	// written, for config show.
	values map[string]string
}

// loadConfigFile applies the file at path to the flags of fs that neither
// the command line nor the environment set.
func loadConfigFile(fs *flag.FlagSet, path string) (*fileConfig, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--config: %w", err)
	}
	defer f.Close()
	entries, err := parseConfigFile(f, path)
	if err != nil {
		return nil, err
	}
	fc := &fileConfig{path: path, fromFile: map[string]bool{}, brokerConfigs: map[string]string{}, values: map[string]string{}}
	byKey := map[string]string{} // file key -> flag name
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name != "config" {
			byKey[fileKey(f.Name)] = f.Name
		}
	})
	visited := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { visited[f.Name] = true })
	var errs []error
	kafka := meta.BrokerConfigs{}
	for _, key := range slices.Sorted(maps.Keys(entries)) {
		e := entries[key]
		at := fmt.Sprintf("%s:%d: %s", path, e.line, key)
		name, isFlag := byKey[key]
		switch {
		case isFlag:
			fc.values[key] = e.value
			if _, ok := kafkaKeys[name]; ok && e.value != "" { // "": the default
				kafka[key] = e.value
			}
			if visited[name] || os.Getenv(envName(name)) != "" {
				continue // the flag or the environment wins
			}
			v, err := fromKeyUnit(name, e.value)
			if err == nil {
				err = fs.Set(name, v)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: invalid value %q: %v", at, e.value, err))
				continue
			}
			fc.fromFile[name] = true
		case derivedKeys[key] != "":
			errs = append(errs, fmt.Errorf("%s: set %s instead", at, derivedKeys[key]))
		case kafkaKeys[key].key != "":
			errs = append(errs, fmt.Errorf("%s: unknown key; use the Kafka name %s", at, kafkaKeys[key].key))
		case knownBrokerKey(key) && key != "process.roles":
			fc.values[key] = e.value
			fc.brokerConfigs[key] = e.value
			kafka[key] = e.value
		default:
			errs = append(errs, fmt.Errorf("%s: unknown key", at))
		}
	}
	if d, ok := entries["log.dirs"]; ok && strings.Contains(d.value, ",") {
		errs = append(errs, fmt.Errorf("%s:%d: log.dirs: Chronik has one data directory, got %q", path, d.line, d.value))
	}
	if err := meta.ValidateBrokerConfigs(kafka); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", path, err))
	}
	if v, ok := fc.brokerConfigs["socket.request.max.bytes"]; ok {
		if n, err := strconv.ParseInt(v, 10, 32); err != nil || n <= 0 {
			errs = append(errs, fmt.Errorf("%s:%d: socket.request.max.bytes: invalid value %q", path, entries["socket.request.max.bytes"].line, v))
		}
	}
	return fc, errors.Join(errs...)
}

// fromKeyUnit converts a file value to its flag's form.
func fromKeyUnit(flagName, v string) (string, error) {
	if kafkaKeys[flagName].unit != "ms" || v == "" {
		return v, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return "", errors.New("want a number of milliseconds")
	}
	if n < 0 {
		return "-1", nil
	}
	return strconv.FormatInt(n, 10) + "ms", nil
}

// toKeyUnit converts a flag value to its file key's form.
func toKeyUnit(flagName, v string) string {
	if kafkaKeys[flagName].unit != "ms" || v == "" || v == "-1" {
		return v
	}
	if d, err := time.ParseDuration(v); err == nil {
		return strconv.FormatInt(d.Milliseconds(), 10)
	}
	return v
}

// apply adds the file's other Kafka keys to cfg.
func (fc *fileConfig) apply(cfg *broker.Config) {
	if fc == nil || len(fc.brokerConfigs) == 0 {
		return
	}
	if cfg.BrokerConfigs == nil {
		cfg.BrokerConfigs = map[string]string{}
	}
	for k, v := range fc.brokerConfigs {
		cfg.BrokerConfigs[k] = v
	}
	if v, ok := fc.brokerConfigs["socket.request.max.bytes"]; ok {
		if n, err := strconv.ParseInt(v, 10, 32); err == nil && n > 0 {
			cfg.MaxRequestBytes = int32(n)
		}
	}
}
