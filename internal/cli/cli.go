// Package cli holds chronik's operator tools: the commands behind
// `chronik bench|topic|produce|consume|group|log`. Every tool but `log`
// talks the Kafka protocol (franz-go's kgo and kadm) to any broker, Chronik
// or not; `log` reads a data directory offline, without a broker.
//
// cmd/chronik only hands the arguments over (Main); each command parses
// its own flags, so its logic can be tested here against an in-process
// broker.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Exit codes.
const (
	ExitOK    = 0
	ExitFail  = 1 // the command ran and failed, or found problems
	ExitUsage = 2 // bad flags or arguments
)

// DefaultBootstrap is the broker a tool talks to without --bootstrap or
// CHRONIK_BOOTSTRAP.
const DefaultBootstrap = "localhost:9092"

// Env is what a command sees of its process.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Getenv reads the environment (os.Getenv); nil reads nothing.
	Getenv func(string) string
}

func (e Env) getenv(name string) string {
	if e.Getenv == nil {
		return ""
	}
	return e.Getenv(name)
}

// Commands lists the tools Main runs, for the usage text.
var Commands = []struct{ Name, Summary string }{
	{"bench", "load generator: bench produce | bench consume"},
	{"topic", "create, list, describe, alter or delete topics"},
	{"produce", "produce lines of stdin as records"},
	{"consume", "print records of a topic"},
	{"group", "list, describe or reset-offsets of consumer groups"},
	{"log", "offline: verify or dump a data directory"},
}

// Main runs the tool args[0] with the arguments after it and returns the
// process exit code. ctx ends the command early (SIGINT).
func Main(ctx context.Context, env Env, args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(env.Stderr, "chronik: missing command")
		return ExitUsage
	}
	var err error
	name := args[0]
	switch name {
	case "bench":
		err = benchCmd(ctx, env, args[1:])
	case "topic":
		err = topicCmd(ctx, env, args[1:])
	case "produce":
		err = produceCmd(ctx, env, args[1:])
	case "consume":
		err = consumeCmd(ctx, env, args[1:])
	case "group":
		err = groupCmd(ctx, env, args[1:])
	case "log":
		err = logCmd(ctx, env, args[1:])
	default:
		fmt.Fprintf(env.Stderr, "chronik: unknown command %q\n", name)
		return ExitUsage
	}
	if len(args) > 1 && !strings.HasPrefix(args[1], "-") && name != "produce" && name != "consume" {
		name += " " + args[1] // the subcommand
	}
	return exitCode(env, name, err)
}

func exitCode(env Env, name string, err error) int {
	var ue *usageError
	var ee exitError
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, flag.ErrHelp):
		return ExitOK
	case errors.As(err, &ue):
		fmt.Fprintf(env.Stderr, "chronik %s: %v\n", ue.cmd, ue.err)
		if ue.usage != "" {
			fmt.Fprintf(env.Stderr, "usage: %s\n", ue.usage)
		}
		return ExitUsage
	case errors.As(err, &ee):
		return int(ee)
	}
	fmt.Fprintf(env.Stderr, "chronik %s: %v\n", name, err)
	return ExitFail
}

// usageError is a mistake in the command line: exit code 2.
type usageError struct {
	cmd, usage string
	err        error
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(cmd, usage, format string, args ...any) error {
	return &usageError{cmd: cmd, usage: usage, err: fmt.Errorf(format, args...)}
}

// exitError ends a command with a code after it printed its own report.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// command is one (sub)command's flag set and usage line.
type command struct {
	name  string // "topic create"
	usage string // "chronik topic create NAME [flags]"
	fs    *flag.FlagSet
	env   Env
}

func newCommand(env Env, name, usage, help string) *command {
	c := &command{name: name, usage: usage, env: env}
	c.fs = flag.NewFlagSet("chronik "+name, flag.ContinueOnError)
	c.fs.SetOutput(env.Stderr)
	c.fs.Usage = func() {
		fmt.Fprintf(env.Stderr, "Usage: %s\n", usage)
		if help != "" {
			fmt.Fprintf(env.Stderr, "\n%s\n", strings.TrimSpace(help))
		}
		fmt.Fprintf(env.Stderr, "\nFlags:\n")
		c.printDefaults()
	}
	return c
}

// printDefaults is flag.PrintDefaults with GNU-style names: "--name", and
// a one-letter shorthand ("shorthand for --name") folded into its flag.
func (c *command) printDefaults() {
	short := map[string]string{}
	c.fs.VisitAll(func(f *flag.Flag) {
		if long, ok := strings.CutPrefix(f.Usage, "shorthand for --"); ok {
			short[long] = f.Name
		}
	})
	w := c.env.Stderr
	c.fs.VisitAll(func(f *flag.Flag) {
		if strings.HasPrefix(f.Usage, "shorthand for --") {
			return
		}
		name := "--" + f.Name
		if s, ok := short[f.Name]; ok {
			name = "-" + s + ", " + name
		}
		typ, usage := flag.UnquoteUsage(f)
		if typ != "" {
			name += " " + typ
		}
		def := ""
		switch {
		case f.DefValue == "" || f.DefValue == "0" || f.DefValue == "false":
		case typ == "string":
			def = ` (default "` + f.DefValue + `")`
		default:
			def = " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(w, "  %s\n    \t%s%s\n", name, usage, def)
	})
}

// parse parses flags and positional arguments in any order ("topic create
// foo --partitions 3" as well as "--partitions 3 foo"); everything after
// "--" is positional.
func (c *command) parse(args []string) ([]string, error) {
	var pos []string
	for {
		if err := c.fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &usageError{cmd: c.name, err: err}
		}
		rest := c.fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func (c *command) usagef(format string, args ...any) error {
	return usagef(c.name, c.usage, format, args...)
}

// set reports whether the flag was given on the command line.
func (c *command) set(name string) bool {
	found := false
	c.fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			found = true
		}
	})
	return found
}

// stringsFlag is a repeatable string flag.
type stringsFlag []string

func (s *stringsFlag) String() string { return strings.Join(*s, ",") }
func (s *stringsFlag) Set(v string) error {
	*s = append(*s, v)
	return nil
}

// clientFlags are the connection flags every networked tool has.
type clientFlags struct {
	bootstrap string
	timeout   time.Duration
	clientID  string
}

func (c *command) clientFlags() *clientFlags {
	o := &clientFlags{}
	def := c.env.getenv("CHRONIK_BOOTSTRAP")
	if def == "" {
		def = DefaultBootstrap
	}
	c.fs.StringVar(&o.bootstrap, "bootstrap", def, "comma-separated host:port of the brokers (CHRONIK_BOOTSTRAP)")
	c.fs.StringVar(&o.bootstrap, "b", def, "shorthand for --bootstrap")
	c.fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "time limit of each admin request")
	o.clientID = "chronik-" + strings.ReplaceAll(c.name, " ", "-")
	return o
}

func (o *clientFlags) seeds() []string {
	var out []string
	for _, s := range strings.Split(o.bootstrap, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// client connects to the bootstrap brokers (lazily, as kgo does).
func (o *clientFlags) client(extra ...kgo.Opt) (*kgo.Client, error) {
	seeds := o.seeds()
	if len(seeds) == 0 {
		return nil, errors.New("--bootstrap is empty")
	}
	opts := append([]kgo.Opt{kgo.SeedBrokers(seeds...), kgo.ClientID(o.clientID)}, extra...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	return cl, nil
}

// admin returns a kadm client over a new kgo client; close it when done.
func (o *clientFlags) admin() (*kadm.Client, error) {
	cl, err := o.client()
	if err != nil {
		return nil, err
	}
	adm := kadm.NewClient(cl)
	adm.SetTimeoutMillis(int32(o.timeout.Milliseconds()))
	return adm, nil
}

// reqCtx bounds one admin exchange by --timeout.
func (o *clientFlags) reqCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, o.timeout)
}

// connErr explains a failure to reach the brokers.
func (o *clientFlags) connErr(err error) error {
	var ne *net.OpError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("no answer from %s within %v (is a broker running there? see --bootstrap or CHRONIK_BOOTSTRAP): %w", o.bootstrap, o.timeout, err)
	case errors.As(err, &ne) && ne.Op == "dial":
		return fmt.Errorf("cannot connect to %s (is a broker running there? see --bootstrap or CHRONIK_BOOTSTRAP): %w", o.bootstrap, err)
	}
	return err
}

// errUnsupported says the broker does not implement an API.
var errUnsupported = errors.New("not supported by the broker")

// requireAPI checks through ApiVersions that every broker supports the
// keys, and returns an error that names the missing API and says what is
// unavailable.
func requireAPI(ctx context.Context, adm *kadm.Client, what string, keys ...kmsg.Key) error {
	vs, err := adm.ApiVersions(ctx)
	if err != nil {
		return err
	}
	for _, v := range vs.Sorted() {
		if v.Err != nil {
			return fmt.Errorf("broker %d: ApiVersions: %w", v.NodeID, v.Err)
		}
		for _, key := range keys {
			if _, ok := v.KeyMaxVersion(int16(key)); !ok {
				return fmt.Errorf("%s: broker %d does not implement %s (API key %d): %w",
					what, v.NodeID, key.Name(), int16(key), errUnsupported)
			}
		}
	}
	return nil
}

// explain turns a few Kafka error codes into advice.
func explain(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, kerr.UnsupportedVersion), errors.Is(err, kerr.InvalidRequest) && strings.Contains(err.Error(), "not supported"):
		return fmt.Errorf("%w (%v)", errUnsupported, err)
	}
	return err
}
