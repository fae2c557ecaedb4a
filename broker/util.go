package broker

import "sort"

func sortedTopics(ts []*topicState) []*topicState {
	sort.Slice(ts, func(i, j int) bool { return ts[i].meta.Name < ts[j].meta.Name })
	return ts
}
