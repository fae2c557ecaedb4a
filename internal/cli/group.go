package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"text/tabwriter"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func groupCmd(ctx context.Context, env Env, args []string) error {
	const usage = "chronik group list|describe|reset-offsets|delete [flags]"
	if len(args) == 0 {
		return usagef("group", usage, "missing subcommand")
	}
	switch args[0] {
	case "list":
		return groupList(ctx, env, args[1:])
	case "describe":
		return groupDescribe(ctx, env, args[1:])
	case "reset-offsets":
		return groupResetOffsets(ctx, env, args[1:])
	case "delete":
		return groupDelete(ctx, env, args[1:])
	case "-h", "--help", "help":
		fmt.Fprintf(env.Stdout, "Usage: %s\n", usage)
		return nil
	}
	return usagef("group", usage, "unknown subcommand %q", args[0])
}

func groupList(ctx context.Context, env Env, args []string) error {
	c := newCommand(env, "group list", "chronik group list", "")
	cf := c.clientFlags()
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
	if err := requireAPI(rctx, adm, "cannot list groups", kmsg.ListGroups); err != nil {
		return cf.connErr(err)
	}
	groups, err := adm.ListGroups(rctx)
	if err != nil {
		return cf.connErr(explain(err))
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tSTATE\tPROTOCOL-TYPE\tCOORDINATOR")
	for _, g := range groups.Sorted() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", g.Group, orDash(g.State), orDash(g.ProtocolType), g.Coordinator)
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func groupDescribe(ctx context.Context, env Env, args []string) error {
	c := newCommand(env, "group describe", "chronik group describe [GROUP...]", `
Shows each group's state and members and, per partition it has offsets for,
the committed offset, the end offset and the lag between them. Without
names: every group.`)
	cf := c.clientFlags()
	groups, err := c.parse(args)
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
	if err := requireAPI(rctx, adm, "cannot describe groups", kmsg.ListGroups, kmsg.DescribeGroups, kmsg.OffsetFetch); err != nil {
		return cf.connErr(err)
	}
	if len(groups) == 0 {
		listed, err := adm.ListGroups(rctx)
		if err != nil {
			return cf.connErr(explain(err))
		}
		groups = listed.Groups()
		slices.Sort(groups)
		if len(groups) == 0 {
			fmt.Fprintln(env.Stdout, "no groups")
			return nil
		}
	}
	lags, err := adm.Lag(rctx, groups...)
	if err != nil {
		return cf.connErr(explain(err))
	}
	var errs []error
	for i, g := range groups {
		if i > 0 {
			fmt.Fprintln(env.Stdout)
		}
		l, ok := lags[g]
		if !ok {
			errs = append(errs, fmt.Errorf("group %s: no answer", g))
			continue
		}
		if err := printGroupLag(env, l); err != nil {
			errs = append(errs, fmt.Errorf("group %s: %w", g, err))
		}
	}
	return errors.Join(errs...)
}

func printGroupLag(env Env, l kadm.DescribedGroupLag) error {
	if l.DescribeErr != nil {
		return fmt.Errorf("describe: %w", l.DescribeErr)
	}
	proto := orDash(l.ProtocolType)
	if l.Protocol != "" {
		proto += "/" + l.Protocol
	}
	fmt.Fprintf(env.Stdout, "Group: %s\tState: %s\tProtocol: %s\tMembers: %d\tCoordinator: %d\n",
		l.Group, orDash(l.State), proto, len(l.Members), l.Coordinator.NodeID)
	if l.FetchErr != nil {
		return fmt.Errorf("fetch committed offsets: %w", l.FetchErr)
	}
	rows := l.Lag.Sorted()
	if len(rows) == 0 {
		fmt.Fprintln(env.Stdout, "  (no committed offsets or assignments)")
		return nil
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  TOPIC\tPARTITION\tCOMMITTED\tEND\tLAG\tMEMBER\tCLIENT-ID\tHOST")
	var total int64
	for _, r := range rows {
		committed, end, lag := "-", "-", "-"
		if r.Commit.At >= 0 {
			committed = fmt.Sprint(r.Commit.At)
		}
		if r.End.Err == nil {
			end = fmt.Sprint(r.End.Offset)
		}
		if r.Err != nil {
			lag = "error: " + r.Err.Error()
		} else if r.Lag >= 0 {
			lag = fmt.Sprint(r.Lag)
			total += r.Lag
		}
		member, client, host := "-", "-", "-"
		if r.Member != nil {
			member, client, host = r.Member.MemberID, r.Member.ClientID, r.Member.ClientHost
		}
		fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Topic, r.Partition, committed, end, lag, member, client, host)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "  total lag: %d\n", total)
	return nil
}

func groupResetOffsets(ctx context.Context, env Env, args []string) error {
	c := newCommand(env, "group reset-offsets", "chronik group reset-offsets GROUP (--topic T... | --all-topics) (--to earliest|latest|OFFSET | --shift-by N) [--execute]", `
Computes new committed offsets for the group and prints them; with
--execute, commits them. The group must have no active members (state
Empty or Dead): stop its consumers first.`)
	cf := c.clientFlags()
	var (
		topics    stringsFlag
		allTopics bool
		partition int
		to        string
		shiftBy   int64
		execute   bool
	)
	c.fs.Var(&topics, "topic", "topic whose offsets to reset (repeatable)")
	c.fs.BoolVar(&allTopics, "all-topics", false, "every topic the group has committed offsets for")
	c.fs.IntVar(&partition, "partition", -1, "only this partition (-1: all)")
	c.fs.StringVar(&to, "to", "", "earliest, latest or an offset")
	c.fs.Int64Var(&shiftBy, "shift-by", 0, "move each committed offset by N (negative: back)")
	c.fs.BoolVar(&execute, "execute", false, "commit the new offsets (default: only show them)")
	names, err := c.parse(args)
	if err != nil {
		return err
	}
	if len(names) != 1 {
		return c.usagef("want exactly one group")
	}
	group := names[0]
	if (len(topics) > 0) == allTopics {
		return c.usagef("give --topic or --all-topics")
	}
	if (to != "") == c.set("shift-by") {
		return c.usagef("give one of --to and --shift-by")
	}
	var target startPos
	if to != "" {
		if target, err = parseFrom(to); err != nil || target.kind == "tail" {
			return c.usagef("--to %q: want earliest, latest or an offset", to)
		}
	}
	adm, err := cf.admin()
	if err != nil {
		return err
	}
	defer adm.Close()
	rctx, cancel := cf.reqCtx(ctx)
	defer cancel()
	if err := requireAPI(rctx, adm, "cannot reset offsets", kmsg.DescribeGroups, kmsg.OffsetFetch, kmsg.OffsetCommit); err != nil {
		return cf.connErr(err)
	}
	described, err := adm.DescribeGroups(rctx, group)
	if err != nil {
		return cf.connErr(explain(err))
	}
	d, err := described.On(group, nil)
	if err == nil {
		err = d.Err
	}
	if err != nil {
		return fmt.Errorf("group %s: %w", group, err)
	}
	if d.State != "Empty" && d.State != "Dead" && d.State != "" {
		return fmt.Errorf("group %s is %s with %s: stop its consumers first (offsets can only be reset in an empty group)", group, d.State, plural(len(d.Members), "member", "members"))
	}
	committed, err := adm.FetchOffsets(rctx, group)
	if err != nil {
		return cf.connErr(explain(err))
	}
	if allTopics {
		for t := range committed {
			topics = append(topics, t)
		}
		slices.Sort(topics)
		if len(topics) == 0 {
			return fmt.Errorf("group %s has no committed offsets", group)
		}
	}
	starts, ends, err := listOffsets(ctx, cf, adm, topics...)
	if err != nil {
		return err
	}
	next := kadm.Offsets{}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tCURRENT\tNEW")
	for _, t := range topics {
		ps := make([]int32, 0, len(ends[t]))
		for p := range ends[t] {
			if partition < 0 || p == int32(partition) {
				ps = append(ps, p)
			}
		}
		if len(ps) == 0 {
			return fmt.Errorf("topic %s has no partition %d", t, partition)
		}
		slices.Sort(ps)
		for _, p := range ps {
			cur := int64(-1)
			if o, ok := committed.Lookup(t, p); ok && o.Err == nil {
				cur = o.At
			}
			lo, hi := starts[t][p], ends[t][p]
			var n int64
			if to != "" {
				n = target.resolve(lo, hi)
			} else {
				if cur < 0 {
					fmt.Fprintf(tw, "%s\t%d\t-\t(no committed offset to shift)\n", t, p)
					continue
				}
				n = min(max(cur+shiftBy, lo), hi)
			}
			curS := "-"
			if cur >= 0 {
				curS = fmt.Sprint(cur)
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%d\n", t, p, curS, n)
			next.Add(kadm.Offset{Topic: t, Partition: p, At: n, LeaderEpoch: -1})
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if !execute {
		fmt.Fprintln(env.Stdout, "dry run: add --execute to commit these offsets")
		return nil
	}
	resps, err := adm.CommitOffsets(rctx, group, next)
	if err != nil {
		return cf.connErr(explain(err))
	}
	if err := resps.Error(); err != nil {
		return fmt.Errorf("commit offsets of group %s: %w", group, err)
	}
	fmt.Fprintf(env.Stdout, "committed new offsets for group %s\n", group)
	return nil
}

func groupDelete(ctx context.Context, env Env, args []string) error {
	c := newCommand(env, "group delete", "chronik group delete GROUP...", "Deletes empty groups and their committed offsets.")
	cf := c.clientFlags()
	groups, err := c.parse(args)
	if err != nil {
		return err
	}
	if len(groups) == 0 {
		return c.usagef("missing group name")
	}
	adm, err := cf.admin()
	if err != nil {
		return err
	}
	defer adm.Close()
	rctx, cancel := cf.reqCtx(ctx)
	defer cancel()
	if err := requireAPI(rctx, adm, "cannot delete groups", kmsg.DeleteGroups); err != nil {
		return cf.connErr(err)
	}
	resps, err := adm.DeleteGroups(rctx, groups...)
	if err != nil {
		return cf.connErr(explain(err))
	}
	var errs []error
	for _, g := range groups {
		r, ok := resps[g]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("group %s: no answer", g))
		case r.Err != nil:
			errs = append(errs, fmt.Errorf("group %s: %w", g, topicErr(r.Err, r.ErrMessage)))
		default:
			fmt.Fprintf(env.Stdout, "deleted group %s\n", g)
		}
	}
	return errors.Join(errs...)
}
