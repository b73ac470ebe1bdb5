package report

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestSectionsAndEventsInEveryOutput(t *testing.T) {
	s := fullSummary(t)
	s.Events = []TimelineEvent{{At: 1500 * time.Millisecond, Name: "kill_shard shard 1"}, {At: 2 * time.Second, Name: "restore_shard shard 1", Error: "boom"}}
	s.Sections = []Section{{Key: "gameday", Title: "Game day", Lines: []string{"Orders: 5 accepted, 0 lost"}, Data: map[string]int{"lost": 0}}}

	if text := written(t, WriteText, s); !strings.Contains(text, "Game day\n========\nOrders: 5 accepted, 0 lost\n") {
		t.Errorf("text lacks the section:\n%s", text)
	}
	var j struct {
		Events   []JSONEvent               `json:"events"`
		Sections map[string]map[string]int `json:"sections"`
	}
	if err := json.Unmarshal([]byte(written(t, WriteJSON, s)), &j); err != nil {
		t.Fatal(err)
	}
	if len(j.Events) != 2 || j.Events[0].AtSeconds != 1.5 || j.Events[1].Error != "boom" {
		t.Errorf("json events = %+v", j.Events)
	}
	if v, ok := j.Sections["gameday"]["lost"]; !ok || v != 0 {
		t.Errorf("json sections = %+v", j.Sections)
	}
	if md := written(t, WriteMarkdown, s); !strings.Contains(md, "#### Game day\n\n```\nOrders: 5 accepted, 0 lost\n```") {
		t.Errorf("markdown lacks the section:\n%s", md)
	}
	h := written(t, WriteHTML, s)
	if !strings.Contains(h, "<h2>Game day</h2>") || !strings.Contains(h, "Orders: 5 accepted, 0 lost") {
		t.Error("html lacks the section")
	}
	if !strings.Contains(h, "kill_shard shard 1") || !strings.Contains(h, "chaos events") {
		t.Error("html charts lack the event marks")
	}
}
