package group

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// State is a classic group's state, named as Kafka names it.
type State int8

const (
	Empty State = iota
	PreparingRebalance
	CompletingRebalance
	Stable
	Dead
)

func (s State) String() string {
	switch s {
	case Empty:
		return "Empty"
	case PreparingRebalance:
		return "PreparingRebalance"
	case CompletingRebalance:
		return "CompletingRebalance"
	case Stable:
		return "Stable"
	case Dead:
		return "Dead"
	}
	return fmt.Sprintf("State(%d)", int8(s))
}

// consumerProtocolType is the protocol type of Kafka consumers: their
// subscriptions can be read from their metadata.
const consumerProtocolType = "consumer"

// tp is a topic partition.
type tp struct {
	topic     string
	partition int32
}

// Offset is a committed offset.
type Offset struct {
	Offset      int64
	LeaderEpoch int32 // -1: none
	Metadata    string
	CommitTime  time.Time
	// ExpireTime, when set, is the explicit expiry of OffsetCommit v1-v4.
	ExpireTime time.Time
}

// group is one group's state. Everything in it is guarded by mu; timers
// re-take mu and check the sequence number they were armed with, so a timer
// that lost the race to Stop does nothing.
type group struct {
	c  *Coordinator
	id string

	mu         sync.Mutex
	state      State
	stateTime  time.Time // when state was entered (Kafka's currentStateTimestamp)
	generation int32
	// protocolType is "" for a group that only stores offsets (a "simple"
	// consumer's); protocol and leader are "" when there is none.
	protocolType string
	protocol     string
	leader       string
	members      map[string]*member
	pending      map[string]*pendingMember // got MEMBER_ID_REQUIRED, not joined yet
	static       map[string]string         // instance id -> member id
	protocols    map[string]int            // members supporting each protocol
	pendingSync  map[string]bool           // joined, SyncGroup not seen yet
	// subscribed is the union of the members' subscribed topics when the
	// group uses the consumer protocol and every member's metadata parsed
	// (computed at each generation), else nil.
	subscribed map[string]bool

	// The rebalance's join timer: the initial delay, then the rebalance
	// timeout. initialDelay is set while the initial delay runs.
	joinTimer      Timer
	joinSeq        uint64
	initialDelay   bool
	newMemberAdded bool
	syncTimer      Timer
	syncSeq        uint64

	// cg is set while the group is a KIP-848 consumer group (consumer.go).
	cg *consumerGroup

	offsets        map[tp]Offset
	pendingCommits map[tp]int // appended commits not yet applied
}

// member is a member of a classic group.
type member struct {
	id               string
	instanceID       *string
	clientID         string
	clientHost       string
	sessionTimeout   time.Duration
	rebalanceTimeout time.Duration
	protocolType     string
	protocols        []Protocol
	assignment       []byte

	// joinCh and syncCh are set while a JoinGroup or SyncGroup waits for
	// its answer.
	joinCh chan JoinResult
	syncCh chan SyncResult
	// isNew until its first join completes: it cannot heartbeat before.
	isNew bool

	hbTimer Timer
	hbSeq   uint64
}

// pendingMember holds an id handed out with MEMBER_ID_REQUIRED until the
// member joins with it or its session timeout passes.
type pendingMember struct {
	timer Timer
}

func newGroup(c *Coordinator, id string, now time.Time) *group {
	return &group{
		c:              c,
		id:             id,
		state:          Empty,
		stateTime:      now,
		members:        map[string]*member{},
		pending:        map[string]*pendingMember{},
		static:         map[string]string{},
		protocols:      map[string]int{},
		pendingSync:    map[string]bool{},
		offsets:        map[tp]Offset{},
		pendingCommits: map[tp]int{},
	}
}

func (g *group) transition(s State) {
	g.state = s
	g.stateTime = g.c.clock.Now()
}

// sortedMembers returns the members ordered by id, for deterministic
// answers.
func (g *group) sortedMembers() []*member {
	ms := make([]*member, 0, len(g.members))
	for _, m := range g.members {
		ms = append(ms, m)
	}
	slices.SortFunc(ms, func(a, b *member) int {
		switch {
		case a.id < b.id:
			return -1
		case a.id > b.id:
			return 1
		}
		return 0
	})
	return ms
}

// supportsProtocols is Kafka's GroupMetadata.supportsProtocols: an empty
// group takes any non-empty protocol type and protocol list; otherwise the
// type must match and one protocol must be supported by every member.
func (g *group) supportsProtocols(protocolType string, ps []Protocol) bool {
	if len(g.members) == 0 {
		return protocolType != "" && len(ps) > 0
	}
	if protocolType != g.protocolType {
		return false
	}
	for _, p := range ps {
		if g.protocols[p.Name] == len(g.members) {
			return true
		}
	}
	return false
}

// add makes m a member.
func (g *group) add(m *member) {
	if len(g.members) == 0 {
		g.protocolType = m.protocolType
	}
	if g.leader == "" {
		g.leader = m.id
	}
	g.members[m.id] = m
	for _, p := range m.protocols {
		g.protocols[p.Name]++
	}
	if m.instanceID != nil {
		g.static[*m.instanceID] = m.id
	}
	g.removePending(m.id)
}

// remove drops a member (it does not answer its waiting requests).
func (g *group) remove(id string) {
	m := g.members[id]
	if m == nil {
		return
	}
	for _, p := range m.protocols {
		if g.protocols[p.Name]--; g.protocols[p.Name] <= 0 {
			delete(g.protocols, p.Name)
		}
	}
	delete(g.members, id)
	if m.instanceID != nil && g.static[*m.instanceID] == id {
		delete(g.static, *m.instanceID)
	}
	m.stopHeartbeat()
	delete(g.pendingSync, id)
	if g.leader == id {
		g.leader = ""
		if ms := g.sortedMembers(); len(ms) > 0 {
			g.leader = ms[0].id
		}
	}
}

func (g *group) removePending(id string) {
	if p := g.pending[id]; p != nil {
		if p.timer != nil {
			p.timer.Stop()
		}
		delete(g.pending, id)
	}
}

// updateProtocols replaces m's protocols, keeping the counts right.
func (g *group) updateProtocols(m *member, ps []Protocol) {
	for _, p := range m.protocols {
		if g.protocols[p.Name]--; g.protocols[p.Name] <= 0 {
			delete(g.protocols, p.Name)
		}
	}
	m.protocols = ps
	for _, p := range ps {
		g.protocols[p.Name]++
	}
}

// rebalanceTimeout is the largest rebalance timeout of the members.
func (g *group) rebalanceTimeout() time.Duration {
	var d time.Duration
	for _, m := range g.members {
		d = max(d, m.rebalanceTimeout)
	}
	return d
}

func (g *group) numAwaitingJoin() int {
	n := 0
	for _, m := range g.members {
		if m.joinCh != nil {
			n++
		}
	}
	return n
}

func (g *group) hasAllMembersJoined() bool {
	return g.numAwaitingJoin() == len(g.members) && len(g.pending) == 0
}

// selectProtocol is Kafka's: among the protocols every member supports,
// each member votes for the first in its own order; most votes wins. Ties
// go to the protocol the leader prefers.
func (g *group) selectProtocol() string {
	votes := map[string]int{}
	for _, m := range g.members {
		for _, p := range m.protocols {
			if g.protocols[p.Name] == len(g.members) {
				votes[p.Name]++
				break
			}
		}
	}
	best, bestVotes := "", -1
	consider := func(name string) {
		if v, ok := votes[name]; ok && v > bestVotes {
			best, bestVotes = name, v
		}
	}
	if l := g.members[g.leader]; l != nil {
		for _, p := range l.protocols {
			consider(p.Name)
		}
	}
	names := make([]string, 0, len(votes))
	for name := range votes {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		consider(name)
	}
	return best
}

// metadataFor returns m's metadata for protocol.
func (m *member) metadataFor(protocol string) []byte {
	for _, p := range m.protocols {
		if p.Name == protocol {
			return p.Metadata
		}
	}
	return nil
}

// matches reports whether ps equals m's protocols, in order.
func (m *member) matches(ps []Protocol) bool {
	if len(ps) != len(m.protocols) {
		return false
	}
	for i := range ps {
		if ps[i].Name != m.protocols[i].Name || !bytes.Equal(ps[i].Metadata, m.protocols[i].Metadata) {
			return false
		}
	}
	return true
}

// computeSubscribed reads the consumer protocol subscriptions of the members
// (Kafka's computeSubscribedTopics): nil when the group is not a consumer
// group or a member's metadata does not parse.
func (g *group) computeSubscribed() map[string]bool {
	if g.protocolType != consumerProtocolType || g.protocol == "" || len(g.members) == 0 {
		return nil
	}
	topics := map[string]bool{}
	for _, m := range g.members {
		var md kmsg.ConsumerMemberMetadata
		if err := md.ReadFrom(m.metadataFor(g.protocol)); err != nil {
			return nil
		}
		for _, t := range md.Topics {
			topics[t] = true
		}
	}
	return topics
}

// newMemberID is Kafka's: "<client id or instance id>-<uuid>".
func newMemberID(clientID string, instanceID *string) string {
	prefix := clientID
	if instanceID != nil {
		prefix = *instanceID
	}
	var u [16]byte
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%s-%x-%x-%x-%x-%x", prefix, u[0:4], u[4:6], u[6:8], u[8:10], u[10:])
}
