package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
)

// configCmd runs `chronik config show [--config F] [start flags]`: the
// effective configuration start would run with, one `key = value  # source`
// line per setting, source one of flag, env, file or default. The output
// is itself a valid config file.
func configCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "show" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprintln(stdout, "Usage: chronik config show [--config FILE] [start flags]")
			return 0
		}
		fmt.Fprintln(stderr, "Usage: chronik config show [--config FILE] [start flags]")
		return 2
	}
	o, fs, err := parseStartFlags(args[1:], stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err == nil {
		_, err = newLogger(o.logLevel, o.logFormat, io.Discard)
	}
	if err == nil {
		_, err = o.config(nil)
	}
	if err != nil {
		fmt.Fprintf(stderr, "chronik config show: %v\n", err)
		return 2
	}
	showConfig(stdout, o, fs)
	return 0
}

// showConfig prints every start setting under its config file key, then
// the file's other Kafka keys.
func showConfig(w io.Writer, o startOptions, fs *flag.FlagSet) {
	file := "none"
	if o.file != nil {
		file = o.file.path
	}
	fmt.Fprintf(w, "# chronik %s effective configuration (config file: %s)\n", version, file)
	visited := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { visited[f.Name] = true })
	var lines []string
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "config" {
			return
		}
		src := "default"
		switch {
		case o.file != nil && o.file.fromFile[f.Name]:
			src = "file"
		case visited[f.Name]:
			src = "flag"
		case os.Getenv(envName(f.Name)) != "":
			src = "env"
		}
		v := toKeyUnit(f.Name, f.Value.String())
		lines = append(lines, fmt.Sprintf("%s = %s  # %s", fileKey(f.Name), tomlValue(f.Value, v), src))
	})
	if o.file != nil {
		for _, k := range slices.Sorted(maps.Keys(o.file.brokerConfigs)) {
			lines = append(lines, fmt.Sprintf("%s = %s  # file", k, tomlValue(nil, o.file.brokerConfigs[k])))
		}
	}
	slices.Sort(lines)
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
}

// tomlValue writes v as the config file reads it back: numbers and
// booleans bare, everything else a quoted string.
func tomlValue(fv flag.Value, v string) string {
	if g, ok := fv.(flag.Getter); ok {
		switch g.Get().(type) {
		case int, bool:
			return v
		}
	}
	if _, err := strconv.ParseInt(v, 10, 64); err == nil {
		return v
	}
	if v == "true" || v == "false" {
		return v
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range v {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\u%04x", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
