package broker

// The scrape-time collector: partition offsets and sizes and consumer group
// lag are read when Prometheus scrapes, from the state the broker already
// keeps, so produce and fetch pay nothing for them.

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chronik-stream/chronik/internal/group"
)

var (
	descLogEnd = prometheus.NewDesc("chronik_partition_log_end_offset",
		"Offset of the next record appended to the partition.", []string{"topic", "partition"}, nil)
	descHW = prometheus.NewDesc("chronik_partition_high_watermark",
		"High watermark of the partition: consumers read up to here.", []string{"topic", "partition"}, nil)
	descLogStart = prometheus.NewDesc("chronik_partition_log_start_offset",
		"First offset still in the partition (after retention and DeleteRecords).", []string{"topic", "partition"}, nil)
	descSize = prometheus.NewDesc("chronik_partition_size_bytes",
		"Bytes of the partition's segment files.", []string{"topic", "partition"}, nil)
	descLag = prometheus.NewDesc("chronik_group_lag",
		"High watermark minus the group's committed offset, for every partition the group committed an offset for.",
		[]string{"group", "topic", "partition"}, nil)
	descMembers = prometheus.NewDesc("chronik_group_members",
		"Members of the consumer group.", []string{"group"}, nil)
)

// stateCollector reads partition and group state at scrape time.
type stateCollector struct{ b *Broker }

func (c stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLogEnd, descHW, descLogStart, descSize, descLag, descMembers} {
		ch <- d
	}
}

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	b := c.b
	hw := map[string][]int64{} // topic -> high watermark by partition
	for _, t := range b.allTopics() {
		name := t.meta.Name
		hws := make([]int64, len(t.parts))
		for i, p := range t.parts {
			if p == nil {
				hws[i] = -1
				continue
			}
			part := strconv.Itoa(i)
			start, h, end := p.Offsets()
			hws[i] = h
			ch <- prometheus.MustNewConstMetric(descLogEnd, prometheus.GaugeValue, float64(end), name, part)
			ch <- prometheus.MustNewConstMetric(descHW, prometheus.GaugeValue, float64(h), name, part)
			ch <- prometheus.MustNewConstMetric(descLogStart, prometheus.GaugeValue, float64(start), name, part)
			ch <- prometheus.MustNewConstMetric(descSize, prometheus.GaugeValue, float64(p.Size()), name, part)
		}
		hw[name] = hws
	}
	gc := b.openGroups()
	if gc == nil {
		return
	}
	groups, err := gc.List(nil, nil)
	if err != nil || len(groups) == 0 {
		return // not loaded yet, or closing
	}
	ids := make([]string, len(groups))
	for i, g := range groups {
		ids[i] = g.Group
	}
	for _, d := range gc.Describe(ids) {
		if d.Err != nil {
			continue
		}
		ch <- prometheus.MustNewConstMetric(descMembers, prometheus.GaugeValue, float64(len(d.Members)), d.Group)
	}
	for _, id := range ids {
		res := gc.Fetch(group.FetchRequest{Group: id})
		if res.Err != nil {
			continue
		}
		for _, t := range res.Topics {
			hws := hw[t.Topic]
			for _, p := range t.Partitions {
				if p.Err != nil || p.Offset < 0 || int(p.Partition) >= len(hws) || hws[p.Partition] < 0 {
					continue
				}
				lag := max(hws[p.Partition]-p.Offset, 0)
				ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, float64(lag), id, t.Topic, strconv.Itoa(int(p.Partition)))
			}
		}
	}
}

// openGroups returns the group coordinator if a request has opened it; a
// scrape never opens it (nor waits for it to load).
func (b *Broker) openGroups() *group.Coordinator {
	groupsMu.Lock()
	defer groupsMu.Unlock()
	return groupsByBroker[b]
}
