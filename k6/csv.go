package k6

import (
	"bytes"
	"fmt"
)

// csvParser reads k6's --out csv lines:
//
//	metric_name,timestamp,metric_value,check,error,error_code,expected_response,group,method,name,proto,scenario,service,status,subproto,tls_version,url,extra_tags,metadata
//	http_req_duration,1595325560,221.899000,,,,true,,GET,http://test.k6.io,HTTP/1.1,default,,200,,,http://test.k6.io,,
//
// Columns are found by the header's names, so older layouts (without
// expected_response, service or metadata) read too. Tags that have no
// column of their own are looked up in extra_tags ("k=v&k2=v2").
type csvParser struct {
	keys                    [numTags][]byte
	metricCol, timeCol, val int
	extraCol                int
	tagCol                  [numTags]int
	fields                  [][]byte
	quoted                  []byte // unquoting buffer
	rec                     record
	timeBuf                 []byte
}

// header reads the header line. It returns an error naming a missing
// column.
func (p *csvParser) header(line []byte) error {
	p.metricCol, p.timeCol, p.val, p.extraCol = -1, -1, -1, -1
	for k := range p.tagCol {
		p.tagCol[k] = -1
	}
	fields, ok := p.split(line)
	if !ok {
		return fmt.Errorf("bad CSV header")
	}
	for i, f := range fields {
		name := string(bytes.TrimSpace(f))
		switch name {
		case "metric_name":
			p.metricCol = i
		case "timestamp":
			p.timeCol = i
		case "metric_value":
			p.val = i
		case "extra_tags":
			p.extraCol = i
		}
		for k := range p.keys {
			if len(p.keys[k]) > 0 && string(p.keys[k]) == name {
				p.tagCol[k] = i
			}
		}
	}
	if p.metricCol < 0 || p.timeCol < 0 || p.val < 0 {
		return fmt.Errorf("the CSV header has no metric_name, timestamp or metric_value column: not k6's --out csv layout")
	}
	return nil
}

// split splits a CSV line into fields (RFC 4180 quoting: a field in
// double quotes may hold commas and "" for a quote). The fields are
// valid until the next call. ok is false for an unterminated quote.
func (p *csvParser) split(line []byte) ([][]byte, bool) {
	line = bytes.TrimRight(line, "\r\n")
	p.fields = p.fields[:0]
	p.quoted = p.quoted[:0]
	for {
		if len(line) > 0 && line[0] == '"' {
			// Quoted field: unquoted into p.quoted. Each field is sliced
			// with its capacity capped, so an append that moves p.quoted
			// leaves earlier fields on the old, still valid array.
			start := len(p.quoted)
			i := 1
			closed := false
			for i < len(line) {
				c := line[i]
				if c == '"' {
					if i+1 < len(line) && line[i+1] == '"' {
						p.quoted = append(p.quoted, '"')
						i += 2
						continue
					}
					closed = true
					i++
					break
				}
				p.quoted = append(p.quoted, c)
				i++
			}
			if !closed {
				return nil, false
			}
			p.fields = append(p.fields, p.quoted[start:len(p.quoted):len(p.quoted)])
			line = line[i:]
			if len(line) == 0 {
				return p.fields, true
			}
			if line[0] != ',' {
				return nil, false
			}
			line = line[1:]
			continue
		}
		c := bytes.IndexByte(line, ',')
		if c < 0 {
			p.fields = append(p.fields, line)
			return p.fields, true
		}
		p.fields = append(p.fields, line[:c])
		line = line[c+1:]
	}
}

// parse parses a data line into p.rec (as a Point record).
func (p *csvParser) parse(line []byte) (*record, error) {
	fields, ok := p.split(line)
	if !ok {
		return nil, fmt.Errorf("unterminated quoted field")
	}
	need := max(p.metricCol, p.timeCol, p.val)
	if len(fields) <= need {
		return nil, fmt.Errorf("%d fields, the header has at least %d", len(fields), need+1)
	}
	p.rec = record{typ: pointType, metric: fields[p.metricCol], time: fields[p.timeCol]}
	v := fields[p.val]
	jp := jsonParser{b: v}
	f, err := jp.number()
	if err != nil || jp.i != len(v) {
		return nil, fmt.Errorf("metric_value %q is not a number", v)
	}
	p.rec.value, p.rec.hasValue = f, true
	for k := range p.tagCol {
		if c := p.tagCol[k]; c >= 0 && c < len(fields) {
			if len(fields[c]) > 0 {
				p.rec.tags[k] = fields[c]
			}
			continue
		}
		if p.extraCol >= 0 && p.extraCol < len(fields) && len(p.keys[k]) > 0 {
			p.rec.tags[k] = extraTag(fields[p.extraCol], p.keys[k])
		}
	}
	return &p.rec, nil
}

// pointType is the record type of data points.
var pointType = []byte("Point")

// extraTag finds key in k6's extra_tags column ("k=v&k2=v2"), nil if absent.
func extraTag(extra, key []byte) []byte {
	for len(extra) > 0 {
		var kv []byte
		if i := bytes.IndexByte(extra, '&'); i >= 0 {
			kv, extra = extra[:i], extra[i+1:]
		} else {
			kv, extra = extra, nil
		}
		if eq := bytes.IndexByte(kv, '='); eq >= 0 && bytes.Equal(kv[:eq], key) {
			return kv[eq+1:]
		}
	}
	return nil
}
