package group

import (
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
)

// GroupDescription answers DescribeGroups for one group.
type GroupDescription struct {
	Group        string
	Err          error
	State        string
	ProtocolType string
	Protocol     string
	Members      []MemberDescription
}

// MemberDescription is one member of a described group.
type MemberDescription struct {
	MemberID   string
	InstanceID *string
	ClientID   string
	ClientHost string
	// Metadata and Assignment are only filled for a Stable group, as Kafka
	// does.
	Metadata   []byte
	Assignment []byte
}

// Describe handles DescribeGroups. A group we do not know is described as
// Dead with no error, as Kafka does before DescribeGroups v6.
func (c *Coordinator) Describe(ids []string) []GroupDescription {
	out := make([]GroupDescription, len(ids))
	err := c.usable()
	for i, id := range ids {
		d := &out[i]
		d.Group = id
		if err != nil {
			d.Err = err
			continue
		}
		g, _ := c.lockGroup(id, false)
		if g == nil {
			d.State = Dead.String()
			continue
		}
		if g.cg != nil {
			// DescribeGroups is for classic groups: Kafka treats a
			// consumer group as one it does not know (ConsumerGroupDescribe
			// describes it).
			d.State = Dead.String()
			g.mu.Unlock()
			continue
		}
		d.State, d.ProtocolType = g.state.String(), g.protocolType
		if g.state == Stable {
			d.Protocol = g.protocol
		}
		for _, m := range g.sortedMembers() {
			md := MemberDescription{MemberID: m.id, InstanceID: m.instanceID, ClientID: m.clientID, ClientHost: m.clientHost}
			if g.state == Stable {
				md.Metadata, md.Assignment = m.metadataFor(g.protocol), m.assignment
			}
			d.Members = append(d.Members, md)
		}
		g.mu.Unlock()
	}
	return out
}

// GroupListing is one group of ListGroups.
type GroupListing struct {
	Group        string
	ProtocolType string
	State        string
	Type         string // "classic"
}

// classicGroupType is the group type of every group we have (KIP-848's
// ListGroups v5 types filter).
const classicGroupType = "classic"

// List handles ListGroups: groups in one of states and of one of types
// (case-insensitive; empty filters match everything), by id.
func (c *Coordinator) List(states, types []string) ([]GroupListing, error) {
	if err := c.usable(); err != nil {
		return nil, err
	}
	match := func(filter []string, v string) bool {
		return len(filter) == 0 || slices.ContainsFunc(filter, func(f string) bool { return strings.EqualFold(f, v) })
	}
	c.mu.RLock()
	groups := make([]*group, 0, len(c.groups))
	for _, g := range c.groups {
		groups = append(groups, g)
	}
	c.mu.RUnlock()
	var out []GroupListing
	for _, g := range groups {
		g.mu.Lock()
		l := GroupListing{Group: g.id, ProtocolType: g.protocolType, State: g.state.String(), Type: classicGroupType}
		if g.cg != nil && g.state != Dead {
			l.State, l.Type = g.consumerState(), consumerGroupType
		}
		g.mu.Unlock()
		if l.State != Dead.String() && match(states, l.State) && match(types, l.Type) {
			out = append(out, l)
		}
	}
	slices.SortFunc(out, func(a, b GroupListing) int { return strings.Compare(a.Group, b.Group) })
	return out, nil
}

// DeleteGroups handles DeleteGroups: only Empty groups can go
// (NON_EMPTY_GROUP otherwise; GROUP_ID_NOT_FOUND for unknown ones). Their
// offsets and metadata get tombstones; the answer (one error per id, on the
// returned channel) comes once those are durable.
func (c *Coordinator) DeleteGroups(ids []string) <-chan []error {
	ch := make(chan []error, 1)
	errs := make([]error, len(ids))
	if err := c.usable(); err != nil {
		for i := range errs {
			errs[i] = err
		}
		ch <- errs
		return ch
	}
	var recs []kv
	var deleted []int
	c.mu.Lock()
	for i, id := range ids {
		g := c.groups[id]
		if g == nil {
			errs[i] = kerr.GroupIDNotFound
			continue
		}
		g.mu.Lock()
		switch g.state {
		case Empty:
			tps := make([]tp, 0, len(g.offsets)+len(g.pendingCommits))
			for t := range g.offsets {
				tps = append(tps, t)
			}
			for t := range g.pendingCommits {
				if _, ok := g.offsets[t]; !ok {
					tps = append(tps, t)
				}
			}
			sortTPs(tps)
			recs = append(recs, tombstones(id, tps)...)
			recs = append(recs, kv{key: groupKey(id)})
			g.unload()
			g.transition(Dead)
			delete(c.groups, id)
			deleted = append(deleted, i)
			c.logger.Info("group deleted", "group", id, "offsets", len(tps))
		case Dead:
			errs[i] = kerr.GroupIDNotFound
		default:
			errs[i] = kerr.NonEmptyGroup
		}
		g.mu.Unlock()
	}
	if len(recs) == 0 {
		c.mu.Unlock()
		ch <- errs
		return ch
	}
	// Appended before c.mu is released: a group created again under the
	// same id writes after the tombstones.
	err := c.st.append(c.clock.Now(), recs, func(err error) {
		for _, i := range deleted {
			errs[i] = storeError(err, false)
		}
		ch <- errs
	})
	c.mu.Unlock()
	if err != nil {
		for _, i := range deleted {
			errs[i] = storeError(err, false)
		}
		ch <- errs
	}
	return ch
}
