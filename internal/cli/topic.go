package cli

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func topicCmd(ctx context.Context, env Env, args []string) error {
	const usage = "chronik topic create|list|describe|alter|delete [flags]"
	if len(args) == 0 {
		return usagef("topic", usage, "missing subcommand")
	}
	switch args[0] {
	case "create":
		return topicCreate(ctx, env, args[1:])
	case "list":
		return topicList(ctx, env, args[1:])
	case "describe":
		return topicDescribe(ctx, env, args[1:])
	case "alter":
		return topicAlter(ctx, env, args[1:])
	case "delete":
		return topicDelete(ctx, env, args[1:])
	case "-h", "--help", "help":
		fmt.Fprintf(env.Stdout, "Usage: %s\n", usage)
		return nil
	}
	return usagef("topic", usage, "unknown subcommand %q", args[0])
}

// parseConfigs turns repeated k=v flags into a config map.
func parseConfigs(kvs []string) (map[string]*string, error) {
	m := make(map[string]*string, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--config %q: want key=value", kv)
		}
		m[k] = kadm.StringPtr(v)
	}
	return m, nil
}

// topicErr adds the broker's message to a per-topic error: "CODE: message"
// rather than the code's generic description.
func topicErr(err error, msg string) error {
	var ke *kerr.Error
	if err == nil || msg == "" || strings.Contains(err.Error(), msg) {
		return err
	}
	if errors.As(err, &ke) {
		return &brokerError{err: err, text: ke.Message + ": " + msg}
	}
	return &brokerError{err: err, text: err.Error() + ": " + msg}
}

// brokerError is a Kafka error code with the broker's own message.
type brokerError struct {
	err  error
	text string
}

func (e *brokerError) Error() string { return e.text }
func (e *brokerError) Unwrap() error { return e.err }

// topicID formats a topic id as Kafka does (URL-safe base64, no padding).
func topicID(id kadm.TopicID) string { return base64.RawURLEncoding.EncodeToString(id[:]) }

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

func topicCreate(ctx context.Context, env Env, args []string) error {
	c := newCommand(env, "topic create", "chronik topic create NAME... [--partitions N] [--replication-factor N] [--config k=v]...", "")
	cf := c.clientFlags()
	var parts, rf int
	var configs stringsFlag
	var ifNotExists bool
	c.fs.IntVar(&parts, "partitions", -1, "partitions (-1: the broker's num.partitions)")
	c.fs.IntVar(&rf, "replication-factor", -1, "replication factor (-1: the broker's default)")
	c.fs.Var(&configs, "config", "topic config key=value (repeatable)")
	c.fs.BoolVar(&ifNotExists, "if-not-exists", false, "succeed if the topic exists already")
	names, err := c.parse(args)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return c.usagef("missing topic name")
	}
	cfgs, err := parseConfigs(configs)
	if err != nil {
		return c.usagef("%v", err)
	}
	adm, err := cf.admin()
	if err != nil {
		return err
	}
	defer adm.Close()
	rctx, cancel := cf.reqCtx(ctx)
	defer cancel()
	resps, err := adm.CreateTopics(rctx, int32(parts), int16(rf), cfgs, names...)
	if err != nil {
		return cf.connErr(err)
	}
	var errs []error
	for _, name := range names {
		r, ok := resps[name]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("topic %s: no answer from the broker", name))
		case r.Err == nil:
			fmt.Fprintf(env.Stdout, "created topic %s", name)
			if r.NumPartitions > 0 {
				fmt.Fprintf(env.Stdout, " with %s", plural(int(r.NumPartitions), "partition", "partitions"))
			}
			fmt.Fprintln(env.Stdout)
		case ifNotExists && errors.Is(r.Err, kerr.TopicAlreadyExists):
			fmt.Fprintf(env.Stdout, "topic %s exists already\n", name)
		default:
			errs = append(errs, fmt.Errorf("topic %s: %w", name, topicErr(r.Err, r.ErrMessage)))
		}
	}
	return errors.Join(errs...)
}

func topicList(ctx context.Context, env Env, args []string) error {
	c := newCommand(env, "topic list", "chronik topic list [--internal]", "")
	cf := c.clientFlags()
	var internal bool
	c.fs.BoolVar(&internal, "internal", false, "include internal topics")
	pos, err := c.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return c.usagef("unexpected arguments %q", pos)
	}
	adm, err := cf.admin()
	if err != nil {
		return err
	}
	defer adm.Close()
	rctx, cancel := cf.reqCtx(ctx)
	defer cancel()
	list := adm.ListTopics
	if internal {
		list = adm.ListTopicsWithInternal
	}
	tds, err := list(rctx)
	if err != nil {
		return cf.connErr(err)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITIONS\tREPLICAS")
	for _, td := range tds.Sorted() {
		if td.Err != nil {
			fmt.Fprintf(tw, "%s\t-\t-\t(%v)\n", td.Topic, td.Err)
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\n", td.Topic, len(td.Partitions), td.Partitions.NumReplicas())
	}
	return tw.Flush()
}

func topicDescribe(ctx context.Context, env Env, args []string) error {
	c := newCommand(env, "topic describe", "chronik topic describe [NAME...]", `
Shows each partition's leader, replicas and start/end offsets, and the
topic configs that are set on the topic (not defaults). Without names:
every topic.`)
	cf := c.clientFlags()
	names, err := c.parse(args)
	if err != nil {
		return err
	}
	adm, err := cf.admin()
	if err != nil {
		return err
	}
	defer adm.Close()
	rctx, cancel := cf.reqCtx(ctx)
	defer cancel()
	tds, err := adm.ListTopics(rctx, names...)
	if err != nil {
		return cf.connErr(err)
	}
	var errs []error
	var ok []string
	for _, name := range names {
		if td, found := tds[name]; !found || td.Err != nil {
			var e error = kerr.UnknownTopicOrPartition
			if found {
				e = td.Err
			}
			errs = append(errs, fmt.Errorf("topic %s: %w", name, e))
		}
	}
	for _, td := range tds.Sorted() {
		if td.Err == nil {
			ok = append(ok, td.Topic)
		}
	}
	if len(ok) == 0 {
		return errors.Join(errs...)
	}
	starts, err := adm.ListStartOffsets(rctx, ok...)
	if err != nil {
		return cf.connErr(err)
	}
	ends, err := adm.ListEndOffsets(rctx, ok...)
	if err != nil {
		return cf.connErr(err)
	}
	cfgs, cfgErr := adm.DescribeTopicConfigs(rctx, ok...)
	for i, name := range ok {
		if i > 0 {
			fmt.Fprintln(env.Stdout)
		}
		td := tds[name]
		fmt.Fprintf(env.Stdout, "Topic: %s\tID: %s\tPartitions: %d\tReplicationFactor: %d\n",
			name, topicID(td.ID), len(td.Partitions), td.Partitions.NumReplicas())
		fmt.Fprintf(env.Stdout, "Configs: %s\n", nonDefaultConfigs(cfgs, cfgErr, name))
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  PARTITION\tLEADER\tEPOCH\tREPLICAS\tISR\tSTART\tEND")
		for _, p := range td.Partitions.Sorted() {
			fmt.Fprintf(tw, "  %d\t%d\t%d\t%s\t%s\t%s\t%s\n", p.Partition, p.Leader, p.LeaderEpoch,
				int32s(p.Replicas), int32s(p.ISR), offsetCell(starts, name, p.Partition), offsetCell(ends, name, p.Partition))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return errors.Join(errs...)
}

// nonDefaultConfigs lists the configs set on the topic itself.
func nonDefaultConfigs(rcs kadm.ResourceConfigs, err error, topic string) string {
	if err != nil {
		return fmt.Sprintf("(unavailable: %v)", err)
	}
	rc, err := rcs.On(topic, nil)
	if err == nil {
		err = rc.Err
	}
	if err != nil {
		return fmt.Sprintf("(unavailable: %v)", topicErr(err, rc.ErrMessage))
	}
	var out []string
	for _, c := range rc.Configs {
		if c.Source != kmsg.ConfigSourceDynamicTopicConfig {
			continue
		}
		v := "<sensitive>"
		if c.Value != nil {
			v = *c.Value
		} else if !c.Sensitive {
			v = "<null>"
		}
		out = append(out, c.Key+"="+v)
	}
	if len(out) == 0 {
		return "(none set: all defaults)"
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

func offsetCell(l kadm.ListedOffsets, t string, p int32) string {
	o, ok := l.Lookup(t, p)
	switch {
	case !ok:
		return "?"
	case o.Err != nil:
		return "error: " + o.Err.Error()
	}
	return fmt.Sprint(o.Offset)
}

func int32s(v []int32) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprint(x)
	}
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ",")
}

func topicAlter(ctx context.Context, env Env, args []string) error {
	c := newCommand(env, "topic alter", "chronik topic alter NAME [--config k=v]... [--delete-config k]... [--partitions N]", `
--config and --delete-config change topic configs with IncrementalAlterConfigs;
--partitions grows the topic to N partitions with CreatePartitions.`)
	cf := c.clientFlags()
	var set, del stringsFlag
	var parts int
	c.fs.Var(&set, "config", "set a topic config key=value (repeatable)")
	c.fs.Var(&del, "delete-config", "remove a topic config, back to its default (repeatable)")
	c.fs.IntVar(&parts, "partitions", 0, "new total number of partitions")
	names, err := c.parse(args)
	if err != nil {
		return err
	}
	if len(names) != 1 {
		return c.usagef("want exactly one topic name")
	}
	if len(set) == 0 && len(del) == 0 && parts == 0 {
		return c.usagef("nothing to alter: give --config, --delete-config or --partitions")
	}
	cfgs, err := parseConfigs(set)
	if err != nil {
		return c.usagef("%v", err)
	}
	topic := names[0]
	adm, err := cf.admin()
	if err != nil {
		return err
	}
	defer adm.Close()
	rctx, cancel := cf.reqCtx(ctx)
	defer cancel()

	if len(cfgs) > 0 || len(del) > 0 {
		if err := requireAPI(rctx, adm, "cannot alter configs", kmsg.IncrementalAlterConfigs); err != nil {
			return cf.connErr(err)
		}
		var alters []kadm.AlterConfig
		keys := make([]string, 0, len(cfgs))
		for k := range cfgs {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			alters = append(alters, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: cfgs[k]})
		}
		for _, k := range del {
			alters = append(alters, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
		}
		resps, err := adm.AlterTopicConfigs(rctx, alters, topic)
		if err != nil {
			return cf.connErr(explain(err))
		}
		r, err := resps.On(topic, nil)
		if err == nil {
			err = topicErr(r.Err, r.ErrMessage)
		}
		if err != nil {
			return fmt.Errorf("topic %s: alter configs: %w", topic, explain(err))
		}
		fmt.Fprintf(env.Stdout, "altered configs of topic %s\n", topic)
	}
	if parts > 0 {
		if err := requireAPI(rctx, adm, "cannot add partitions", kmsg.CreatePartitions); err != nil {
			return cf.connErr(err)
		}
		resps, err := adm.UpdatePartitions(rctx, parts, topic)
		if err != nil {
			return cf.connErr(explain(err))
		}
		r, ok := resps[topic]
		if !ok {
			return fmt.Errorf("topic %s: no answer to CreatePartitions", topic)
		}
		if r.Err != nil {
			return fmt.Errorf("topic %s: set partitions to %d: %w", topic, parts, topicErr(r.Err, r.ErrMessage))
		}
		fmt.Fprintf(env.Stdout, "topic %s now has %d partitions\n", topic, parts)
	}
	return nil
}

func topicDelete(ctx context.Context, env Env, args []string) error {
	c := newCommand(env, "topic delete", "chronik topic delete NAME...", "")
	cf := c.clientFlags()
	var ifExists bool
	c.fs.BoolVar(&ifExists, "if-exists", false, "succeed if a topic does not exist")
	names, err := c.parse(args)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return c.usagef("missing topic name")
	}
	adm, err := cf.admin()
	if err != nil {
		return err
	}
	defer adm.Close()
	rctx, cancel := cf.reqCtx(ctx)
	defer cancel()
	resps, err := adm.DeleteTopics(rctx, names...)
	if err != nil {
		return cf.connErr(err)
	}
	var errs []error
	for _, name := range names {
		r, ok := resps[name]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("topic %s: no answer from the broker", name))
		case r.Err == nil:
			fmt.Fprintf(env.Stdout, "deleted topic %s\n", name)
		case ifExists && errors.Is(r.Err, kerr.UnknownTopicOrPartition):
			fmt.Fprintf(env.Stdout, "topic %s does not exist\n", name)
		default:
			errs = append(errs, fmt.Errorf("topic %s: %w", name, topicErr(r.Err, r.ErrMessage)))
		}
	}
	return errors.Join(errs...)
}
