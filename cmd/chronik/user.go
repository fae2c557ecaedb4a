package main

// chronik user add|delete|list: SCRAM credentials over the Kafka protocol
// (AlterUserScramCredentials and DescribeUserScramCredentials, KIP-554), so
// it works against a running broker, Chronik or Kafka, and the broker's
// ACLs apply (ALTER or DESCRIBE on the cluster). The password is salted and
// hashed here (PBKDF2); only the salted password crosses the network and
// only StoredKey and ServerKey are stored.

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

const userUsage = `Usage: chronik user <command> [flags]

Commands:
  add NAME      create or change a user's SCRAM credentials
                (--password-stdin, --password or CHRONIK_USER_PASSWORD)
  delete NAME   delete a user's SCRAM credentials
  list [NAME]   list users and their SCRAM mechanisms

Every command takes --bootstrap and the client security flags
(chronik user add -h lists them).
`

func userCmd(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return userMain(ctx, args, os.Stdin, stdout, stderr)
}

func userMain(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, userUsage)
		return 2
	}
	var err error
	switch args[0] {
	case "add":
		err = userAdd(ctx, args[1:], stdin, stdout, stderr)
	case "delete":
		err = userDelete(ctx, args[1:], stdout, stderr)
	case "list":
		err = userList(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, userUsage)
		return 0
	default:
		fmt.Fprintf(stderr, "chronik user: unknown command %q\n\n%s", args[0], userUsage)
		return 2
	}
	var ue usageErr
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "chronik user %s: %v\n", args[0], err)
		return 2
	}
	fmt.Fprintf(stderr, "chronik user %s: %v\n", args[0], err)
	return 1
}

type usageErr struct{ error }

// clientFlags are how the user commands reach the broker.
type clientFlags struct {
	bootstrap   string
	timeout     time.Duration
	mechanism   string
	user        string
	password    string
	tls         bool
	tlsCA       string
	tlsCert     string
	tlsKey      string
	tlsInsecure bool
}

func (c *clientFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.bootstrap, "bootstrap", envOr("CHRONIK_BOOTSTRAP", "localhost:9092"), "comma-separated host:port of the brokers (CHRONIK_BOOTSTRAP)")
	fs.DurationVar(&c.timeout, "timeout", 15*time.Second, "how long to wait for the broker")
	fs.StringVar(&c.mechanism, "sasl-mechanism", envOr("CHRONIK_SASL_MECHANISM", ""), "authenticate with SASL: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (CHRONIK_SASL_MECHANISM)")
	fs.StringVar(&c.user, "sasl-user", envOr("CHRONIK_SASL_USER", ""), "SASL user (CHRONIK_SASL_USER)")
	fs.StringVar(&c.password, "sasl-password", envOr("CHRONIK_SASL_PASSWORD", ""), "SASL password; prefer the environment variable (CHRONIK_SASL_PASSWORD)")
	fs.BoolVar(&c.tls, "tls", false, "connect with TLS")
	fs.StringVar(&c.tlsCA, "tls-ca", envOr("CHRONIK_TLS_CA", ""), "PEM CA certificates to trust instead of the system's (implies --tls) (CHRONIK_TLS_CA)")
	fs.StringVar(&c.tlsCert, "tls-cert", envOr("CHRONIK_CLIENT_TLS_CERT", ""), "client certificate for mutual TLS (implies --tls) (CHRONIK_CLIENT_TLS_CERT)")
	fs.StringVar(&c.tlsKey, "tls-key", envOr("CHRONIK_CLIENT_TLS_KEY", ""), "key of --tls-cert (CHRONIK_CLIENT_TLS_KEY)")
	fs.BoolVar(&c.tlsInsecure, "tls-insecure-skip-verify", false, "do not verify the broker's certificate (testing only)")
}

func (c *clientFlags) admin() (*kadm.Client, func(), error) {
	opts := []kgo.Opt{kgo.SeedBrokers(splitList(c.bootstrap)...), kgo.RequestRetries(2)}
	if c.tls || c.tlsCA != "" || c.tlsCert != "" || c.tlsInsecure {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.tlsInsecure}
		if c.tlsCA != "" {
			pem, err := os.ReadFile(c.tlsCA)
			if err != nil {
				return nil, nil, err
			}
			cfg.RootCAs = x509.NewCertPool()
			if !cfg.RootCAs.AppendCertsFromPEM(pem) {
				return nil, nil, fmt.Errorf("--tls-ca %s holds no PEM certificate", c.tlsCA)
			}
		}
		if c.tlsCert != "" {
			pair, err := tls.LoadX509KeyPair(c.tlsCert, c.tlsKey)
			if err != nil {
				return nil, nil, err
			}
			cfg.Certificates = []tls.Certificate{pair}
		}
		opts = append(opts, kgo.DialTLSConfig(cfg))
	}
	if c.mechanism != "" {
		var m sasl.Mechanism
		switch strings.ToUpper(c.mechanism) {
		case "PLAIN":
			m = plain.Auth{User: c.user, Pass: c.password}.AsMechanism()
		case "SCRAM-SHA-256":
			m = scram.Auth{User: c.user, Pass: c.password}.AsSha256Mechanism()
		case "SCRAM-SHA-512":
			m = scram.Auth{User: c.user, Pass: c.password}.AsSha512Mechanism()
		default:
			return nil, nil, usageErr{fmt.Errorf("--sasl-mechanism %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", c.mechanism)}
		}
		opts = append(opts, kgo.SASL(m))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, nil, err
	}
	return kadm.NewClient(cl), cl.Close, nil
}

// parseArgs parses flags and positional arguments in any order.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageErr{err}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

var scramMechanisms = map[string]kadm.ScramMechanism{"SCRAM-SHA-256": kadm.ScramSha256, "SCRAM-SHA-512": kadm.ScramSha512}

func parseMechanisms(s string) ([]kadm.ScramMechanism, error) {
	var out []kadm.ScramMechanism
	for _, name := range splitList(strings.ToUpper(s)) {
		m, ok := scramMechanisms[name]
		if !ok {
			return nil, usageErr{fmt.Errorf("--mechanism %q: want SCRAM-SHA-256 and/or SCRAM-SHA-512", name)}
		}
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out, nil
}

func userAdd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("chronik user add", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf clientFlags
	cf.register(fs)
	mechs := fs.String("mechanism", "SCRAM-SHA-256,SCRAM-SHA-512", "mechanisms to set, comma-separated")
	iters := fs.Int("iterations", 8192, "PBKDF2 iterations (4096 to 16384)")
	pwStdin := fs.Bool("password-stdin", false, "read the password from the first line of stdin")
	pwFlag := fs.String("password", "", "the password (visible to other local users; prefer --password-stdin or CHRONIK_USER_PASSWORD)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || pos[0] == "" {
		return usageErr{errors.New("want exactly one user NAME")}
	}
	name := pos[0]
	ms, err := parseMechanisms(*mechs)
	if err != nil {
		return err
	}
	if *iters < 4096 || *iters > 16384 {
		return usageErr{fmt.Errorf("--iterations %d: want 4096 to 16384", *iters)}
	}
	var pw string
	switch {
	case *pwStdin && *pwFlag != "":
		return usageErr{errors.New("--password and --password-stdin are exclusive")}
	case *pwStdin:
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && (err != io.EOF || line == "") {
			return fmt.Errorf("reading the password from stdin: %w", err)
		}
		pw = strings.TrimRight(line, "\r\n")
	case *pwFlag != "":
		pw = *pwFlag
	default:
		pw = os.Getenv("CHRONIK_USER_PASSWORD")
	}
	if pw == "" {
		return usageErr{errors.New("no password: use --password-stdin, --password or CHRONIK_USER_PASSWORD")}
	}
	adm, closeFn, err := cf.admin()
	if err != nil {
		return err
	}
	defer closeFn()
	ctx, cancel := context.WithTimeout(ctx, cf.timeout)
	defer cancel()
	// One request per mechanism: a user may appear only once in a request.
	for _, m := range ms {
		res, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: name, Mechanism: m, Iterations: int32(*iters), Password: pw}})
		if err != nil {
			return err
		}
		if r := res[name]; r.Err != nil {
			return fmt.Errorf("%s (%s): %v %s", name, m, r.Err, r.ErrMessage)
		}
		fmt.Fprintf(stdout, "user %s: %s set (%d iterations)\n", name, m, *iters)
	}
	return nil
}

func userDelete(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("chronik user delete", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf clientFlags
	cf.register(fs)
	mechs := fs.String("mechanism", "", "mechanisms to delete, comma-separated; default every one the user has")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || pos[0] == "" {
		return usageErr{errors.New("want exactly one user NAME")}
	}
	name := pos[0]
	ms, err := parseMechanisms(*mechs)
	if err != nil {
		return err
	}
	adm, closeFn, err := cf.admin()
	if err != nil {
		return err
	}
	defer closeFn()
	ctx, cancel := context.WithTimeout(ctx, cf.timeout)
	defer cancel()
	if len(ms) == 0 {
		d, err := adm.DescribeUserSCRAMs(ctx, name)
		if err != nil {
			return err
		}
		if r := d[name]; r.Err != nil {
			return fmt.Errorf("%s: %v %s", name, r.Err, r.ErrMessage)
		}
		for _, ci := range d[name].CredInfos {
			ms = append(ms, ci.Mechanism)
		}
	}
	for _, m := range ms {
		res, err := adm.AlterUserSCRAMs(ctx, []kadm.DeleteSCRAM{{User: name, Mechanism: m}}, nil)
		if err != nil {
			return err
		}
		if r := res[name]; r.Err != nil {
			return fmt.Errorf("%s (%s): %v %s", name, m, r.Err, r.ErrMessage)
		}
		fmt.Fprintf(stdout, "user %s: %s deleted\n", name, m)
	}
	return nil
}

func userList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("chronik user list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf clientFlags
	cf.register(fs)
	names, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	adm, closeFn, err := cf.admin()
	if err != nil {
		return err
	}
	defer closeFn()
	ctx, cancel := context.WithTimeout(ctx, cf.timeout)
	defer cancel()
	d, err := adm.DescribeUserSCRAMs(ctx, names...)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USER\tMECHANISM\tITERATIONS")
	failed := false
	for _, u := range d.Sorted() {
		if u.Err != nil {
			fmt.Fprintf(stderr, "%s: %v %s\n", u.User, u.Err, u.ErrMessage)
			failed = true
			continue
		}
		for _, ci := range u.CredInfos {
			fmt.Fprintf(tw, "%s\t%s\t%d\n", u.User, ci.Mechanism, ci.Iterations)
		}
	}
	tw.Flush()
	if failed {
		return errors.New("some users could not be listed")
	}
	return nil
}
