package broker

// DeleteTopics: v0-v6.
//
// Behavior: removes each topic from the metadata (persisted first), then
// closes and deletes its partition directories. v6 names topics by name or
// by id; an unknown id gets UNKNOWN_TOPIC_ID, an unknown name
// UNKNOWN_TOPIC_OR_PARTITION. A topic of the same name created afterwards
// is a new topic with a new id and empty partitions.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(kmsg.DeleteTopics, 0, 6, handleDeleteTopics) }

func handleDeleteTopics(r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.DeleteTopicsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
	b := r.c.b

	reqs := req.Topics
	if r.version < 6 {
		reqs = nil
		for _, name := range req.TopicNames {
			reqs = append(reqs, kmsg.DeleteTopicsRequestTopic{Topic: &name})
		}
	}
	for _, rt := range reqs {
		st := kmsg.NewDeleteTopicsResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		name := ""
		if rt.Topic != nil {
			name = *rt.Topic
		} else if ts := b.topicByID(rt.TopicID); ts != nil {
			name = ts.meta.Name
			st.Topic = &name
		} else {
			st.ErrorCode = kerr.UnknownTopicID.Code
			resp.Topics = append(resp.Topics, st)
			continue
		}
		t, err := b.deleteTopic(name)
		if err != nil {
			st.ErrorCode = errorCode(err)
			st.ErrorMessage = errMsg(err)
		} else {
			st.TopicID = t.ID
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}
