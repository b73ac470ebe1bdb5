package profiles

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Defaults of a population the profile does not describe.
var (
	defaultRegions = []string{"us-east", "us-west", "eu-west", "ap-tokyo"}
	defaultZones   = []string{"10001", "94105", "DE", "JP"}
)

const (
	defaultCustomers = 10000
	defaultAddresses = 1000
	defaultSKUs      = 1000
	maxGenerated     = 100_000_000
	maxZipfSKUs      = 1_000_000
)

func (l *loader) population(n *yaml.Node) {
	pop := &Population{customers: defaultCustomers, customerCol: -1, addresses: defaultAddresses, zones: defaultZones, zoneCol: -1, skus: defaultSKUs}
	l.p.Population = pop
	var f map[string]*yaml.Node
	if n != nil {
		f = l.fields(n, "population", []string{"regions", "customers", "addresses", "skus"})
	}
	if r := f["regions"]; r != nil {
		l.regions(r, pop)
	}
	if len(pop.regions) == 0 {
		pop.regions = defaultRegions
		pop.regionCum, _ = cumulate([]float64{1, 1, 1, 1})
	}
	if c := f["customers"]; c != nil {
		l.customers(c, pop)
	}
	if a := f["addresses"]; a != nil {
		l.addresses(a, pop)
	}
	if s := f["skus"]; s != nil {
		l.skus(s, pop)
	}
}

func (l *loader) regions(n *yaml.Node, pop *Population) {
	var w []float64
	switch n.Kind {
	case yaml.SequenceNode:
		for _, it := range n.Content {
			it = deref(it)
			name, ok := l.str(it, "population.regions")
			if ok && name != "" {
				pop.regions = append(pop.regions, name)
				pop.regionNodes = append(pop.regionNodes, it)
				w = append(w, 1)
			}
		}
	case yaml.MappingNode:
		for _, kv := range l.pairs(n, "population.regions", "") {
			v, ok := l.number(kv[1], "population.regions."+kv[0].Value)
			if !ok {
				continue
			}
			if v < 0 {
				l.errf(kv[1], "use 0 to keep a region without traffic", "population.regions.%s: weight %v is negative; expected a weight >= 0", kv[0].Value, v)
				continue
			}
			pop.regions = append(pop.regions, kv[0].Value)
			pop.regionNodes = append(pop.regionNodes, kv[0])
			w = append(w, v)
		}
	default:
		l.errf(n, "e.g. regions: {us-east: 3, eu-west: 1}", "population.regions: expected a map of region to weight or a list of regions; got %s", kindName(n))
		return
	}
	if len(pop.regions) == 0 {
		l.errf(n, "e.g. regions: {us-east: 3, eu-west: 1}", "population.regions: no regions; expected at least one")
		return
	}
	cum, ok := cumulate(w)
	if !ok {
		l.errf(n, "give at least one region a weight above 0", "population.regions: the weights sum to zero; expected a positive sum")
		pop.regions = nil
		return
	}
	pop.regionCum = cum
}

// countOrFile reads `N`, `{count: N, ...}` or `{file: F, ...}`; extra keys
// are returned in the map.
func (l *loader) countOrFile(n *yaml.Node, what string, extra []string) (count int, tbl *table, f map[string]*yaml.Node, ok bool) {
	if n.Kind == yaml.ScalarNode {
		v, ok := l.integer(n, what, 1, maxGenerated)
		return int(v), nil, nil, ok
	}
	f = l.fields(n, what, append([]string{"count", "file"}, extra...))
	if f == nil {
		return 0, nil, nil, false
	}
	c, fl := f["count"], f["file"]
	switch {
	case c != nil && fl != nil:
		l.errf(fl, "remove one", "%s: count and file are both set; expected one", what)
		return 0, nil, f, false
	case fl != nil:
		tbl = l.dataFile(fl, what)
		if tbl == nil {
			return 0, nil, f, false
		}
		return len(tbl.rows), tbl, f, true
	case c != nil:
		v, ok := l.integer(c, what+".count", 1, maxGenerated)
		return int(v), nil, f, ok
	}
	return 0, nil, f, true // defaults
}

// column resolves a column option (default def) of a data file.
func (l *loader) column(f map[string]*yaml.Node, key, def string, tbl *table, what string, required bool) int {
	name, at := def, f[key]
	if at != nil {
		name, _ = l.str(at, what+"."+key)
	} else {
		at = f["file"]
	}
	col := tbl.col(name)
	if col < 0 && (required || f[key] != nil) {
		l.errf(at, didYouMean(name, tbl.cols), "%s: data file %s has no column %q; its columns are %s", what, tbl.file, name, strings.Join(tbl.cols, ", "))
	}
	return col
}

func (l *loader) customers(n *yaml.Node, pop *Population) {
	count, tbl, f, ok := l.countOrFile(n, "population.customers", []string{"id"})
	if !ok {
		l.customersBroken = true
		return
	}
	if count > 0 {
		pop.customers = count
	}
	if tbl != nil {
		pop.customerRows = tbl
		if f["id"] != nil {
			pop.customerCol = l.column(f, "id", "id", tbl, "population.customers", true)
		} else if c := tbl.col("id"); c >= 0 {
			pop.customerCol = c
		} else {
			pop.customerCol = tbl.col("customer_id")
		}
	} else if f != nil && f["id"] != nil {
		l.errf(f["id"], "id: names a column of a data file", "population.customers.id needs file:")
	}
}

func (l *loader) addresses(n *yaml.Node, pop *Population) {
	count, tbl, f, ok := l.countOrFile(n, "population.addresses", []string{"zones", "address", "zone"})
	if !ok {
		return
	}
	if count > 0 {
		pop.addresses = count
	}
	if tbl != nil {
		pop.addressRows = tbl
		pop.addrCol = l.column(f, "address", "address", tbl, "population.addresses", true)
		pop.zoneCol = l.column(f, "zone", "zone", tbl, "population.addresses", false)
		if z := f["zones"]; z != nil {
			l.errf(z, "put the zone in a column of the file", "population.addresses.zones applies to generated addresses only")
		}
		return
	}
	if z := f["zones"]; z != nil {
		zs := l.stringList(z, "population.addresses.zones")
		if len(zs) > 0 {
			pop.zones = zs
		}
	}
	for _, k := range []string{"address", "zone"} {
		if f[k] != nil {
			l.errf(f[k], "columns apply to a data file", "population.addresses.%s needs file:", k)
		}
	}
}

func (l *loader) stringList(n *yaml.Node, what string) []string {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		l.errf(n, "e.g. [US-NY, DE-BE]", "%s: expected a non-empty list; got %s", what, kindName(n))
		return nil
	}
	var out []string
	for _, it := range n.Content {
		it = deref(it)
		if it.Kind != yaml.ScalarNode || it.Value == "" || it.Tag == "!!null" {
			l.errf(it, "", "%s: expected a non-empty value; got %s", what, kindName(it))
			continue
		}
		out = append(out, it.Value)
	}
	return out
}

func (l *loader) skus(n *yaml.Node, pop *Population) {
	count, tbl, f, ok := l.countOrFile(n, "population.skus", []string{"popularity", "exponent", "hot", "share", "id", "weight"})
	if !ok {
		return
	}
	if count > 0 {
		pop.skus = count
	}
	if tbl != nil {
		pop.skuRows = tbl
		pop.skuCol = l.column(f, "id", "sku", tbl, "population.skus", true)
		wcol := -1
		if f["weight"] != nil {
			wcol = l.column(f, "weight", "weight", tbl, "population.skus", true)
		} else {
			wcol = tbl.col("weight")
		}
		if wcol >= 0 {
			w := make([]float64, len(tbl.rows))
			for i, row := range tbl.rows {
				v, err := strconv.ParseFloat(row[wcol], 64)
				if err != nil || v < 0 || v != v {
					l.errs = append(l.errs, LoadError{File: tbl.file, Line: i + 2, Column: 1, Msg: fmt.Sprintf("weight %q is not a number >= 0", row[wcol]), Hint: "the weight column gives each SKU's popularity"})
					return
				}
				w[i] = v
			}
			cum, ok := cumulate(w)
			if !ok {
				l.errf(f["file"], "give some SKUs a weight above 0", "population.skus: the weights in %s sum to zero; expected a positive sum", tbl.file)
				return
			}
			pop.skuCum, pop.popularity = cum, Weighted
		}
	}
	if f == nil {
		return
	}
	pn := f["popularity"]
	if pn == nil {
		for _, k := range []string{"exponent", "hot", "share"} {
			if f[k] != nil {
				l.errf(f[k], "add popularity: zipf or popularity: hot", "population.skus.%s needs a popularity model", k)
			}
		}
		return
	}
	if pop.popularity == Weighted {
		l.errf(pn, "remove popularity: or the weight column", "population.skus: popularity and a weight column are both set")
		return
	}
	ps, _ := l.str(pn, "population.skus.popularity")
	switch ps {
	case "uniform":
		pop.popularity = Uniform
	case "zipf":
		pop.popularity = Zipf
		pop.exponent = 1
		if e := f["exponent"]; e != nil {
			v, ok := l.number(e, "population.skus.exponent")
			if ok && (v <= 0 || v > 10) {
				l.errf(e, "1.0 is classic Zipf; 1.2 makes the head hotter", "population.skus.exponent: %v is out of range; expected above 0 and at most 10", v)
			} else if ok {
				pop.exponent = v
			}
		}
		if pop.skus > maxZipfSKUs {
			l.errf(pn, "", "population.skus: %d SKUs are too many for zipf; expected at most %d", pop.skus, maxZipfSKUs)
			return
		}
		pop.skuCum = zipfCum(pop.skus, pop.exponent)
	case "hot":
		pop.popularity = Hot
		pop.share = 0.9
		if s := f["share"]; s != nil {
			v, ok := l.number(s, "population.skus.share")
			if ok && (v < 0 || v > 1) {
				l.errf(s, "0.9 sends 90% of picks to the hot SKU", "population.skus.share: %v is out of range; expected 0..1", v)
			} else if ok {
				pop.share = v
			}
		}
		if h := f["hot"]; h != nil {
			id, _ := l.str(h, "population.skus.hot")
			if i := pop.skuIndex(id); i >= 0 {
				pop.hot = i
			} else {
				var first, last []byte
				first = pop.AppendSKU(first, 0)
				last = pop.AppendSKU(last, pop.skus-1)
				l.errf(h, fmt.Sprintf("SKU ids run from %s to %s", first, last), "population.skus.hot: no SKU %q", id)
			}
		}
	default:
		l.errf(pn, didYouMean(ps, []string{"uniform", "zipf", "hot"}), "population.skus.popularity: unknown model %q; expected uniform, zipf or hot", ps)
	}
	if pop.popularity != Zipf && f["exponent"] != nil {
		l.errf(f["exponent"], "", "population.skus.exponent applies to popularity: zipf only")
	}
	if pop.popularity != Hot {
		for _, k := range []string{"hot", "share"} {
			if f[k] != nil {
				l.errf(f[k], "", "population.skus.%s applies to popularity: hot only", k)
			}
		}
	}
}

// maxDataFile bounds a data file's size (256 MiB).
const maxDataFile = 256 << 20

// dataFile reads the CSV or JSON-lines file named by n, relative to the
// profile's directory. Problems inside it are reported at its own lines.
func (l *loader) dataFile(n *yaml.Node, what string) *table {
	name, ok := l.str(n, what+".file")
	if !ok {
		return nil
	}
	path := name
	if !filepath.IsAbs(path) {
		path = filepath.Join(l.dir, name)
	}
	ext := strings.ToLower(filepath.Ext(name))
	if ext != ".csv" && ext != ".jsonl" && ext != ".ndjson" {
		l.errf(n, "a CSV file needs a header row naming the columns; a JSON-lines file has one object per line", "%s.file: %q has extension %q; expected .csv or .jsonl", what, name, ext)
		return nil
	}
	st, err := os.Stat(path)
	if err != nil {
		dir := l.dir
		if dir == "" {
			dir = "."
		}
		l.errf(n, "data files are found relative to the profile's directory ("+dir+")", "%s.file: cannot read data file %q: %v", what, name, errors.Unwrap(err))
		return nil
	}
	if st.Size() > maxDataFile {
		l.errf(n, "", "%s.file: %q is %d bytes; expected at most %d", what, name, st.Size(), maxDataFile)
		return nil
	}
	src, err := os.ReadFile(path)
	if err != nil {
		l.errf(n, "", "%s.file: cannot read data file %q: %v", what, name, err)
		return nil
	}
	var t *table
	var derr *LoadError
	if ext == ".csv" {
		t, derr = parseCSV(path, src)
	} else {
		t, derr = parseJSONLines(path, src)
	}
	if derr != nil {
		l.errs = append(l.errs, *derr)
		l.errf(n, "see the error in "+name, "%s.file: data file %q is malformed", what, name)
		return nil
	}
	return t
}

func parseCSV(path string, src []byte) (*table, *LoadError) {
	r := csv.NewReader(bytes.NewReader(src))
	r.TrimLeadingSpace = true
	header, err := r.Read()
	if err == io.EOF {
		return nil, &LoadError{File: path, Line: 1, Column: 1, Msg: "empty data file; expected a header row naming the columns, then rows", Hint: "e.g. id,name"}
	}
	if err != nil {
		return nil, csvError(path, err)
	}
	t := &table{file: path, cols: header}
	seen := map[string]bool{}
	for i, c := range header {
		if c == "" || seen[c] {
			return nil, &LoadError{File: path, Line: 1, Column: i + 1, Msg: fmt.Sprintf("header column %d is empty or repeated (%q); expected unique column names", i+1, c)}
		}
		seen[c] = true
	}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, csvError(path, err)
		}
		t.rows = append(t.rows, rec)
	}
	if len(t.rows) == 0 {
		return nil, &LoadError{File: path, Line: 2, Column: 1, Msg: "no rows after the header; expected at least one row"}
	}
	return t, nil
}

func csvError(path string, err error) *LoadError {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		msg := pe.Err.Error()
		if errors.Is(pe.Err, csv.ErrFieldCount) {
			msg = "wrong number of fields; expected as many as the header has columns"
		}
		return &LoadError{File: path, Line: pe.Line, Column: pe.Column, Msg: msg, Hint: "quote values that contain commas"}
	}
	return &LoadError{File: path, Msg: err.Error()}
}

func parseJSONLines(path string, src []byte) (*table, *LoadError) {
	t := &table{file: path}
	colIdx := map[string]int{}
	for i, line := range bytes.Split(src, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		bad := func(msg string) (*table, *LoadError) {
			return nil, &LoadError{File: path, Line: i + 1, Column: 1, Msg: msg, Hint: `one JSON object per line, e.g. {"id": "c-1", "name": "Ada"}`}
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(line, &obj); err != nil {
			return bad("not a JSON object: " + err.Error())
		}
		if len(t.cols) == 0 {
			for k := range obj {
				t.cols = append(t.cols, k)
			}
			sort.Strings(t.cols)
			for j, k := range t.cols {
				colIdx[k] = j
			}
			if len(t.cols) == 0 {
				return bad("the first object has no fields; expected the columns")
			}
		}
		row := make([]string, len(t.cols))
		for k, raw := range obj {
			j, ok := colIdx[k]
			if !ok {
				return bad(fmt.Sprintf("field %q is not in the first line; expected the fields %s", k, strings.Join(t.cols, ", ")))
			}
			var v any
			if err := json.Unmarshal(raw, &v); err != nil {
				return bad(err.Error())
			}
			switch x := v.(type) {
			case string:
				row[j] = x
			case nil:
			case bool, float64:
				row[j] = string(raw)
			default:
				return bad(fmt.Sprintf("field %q is an object or list; expected a string, number or boolean", k))
			}
		}
		if len(obj) != len(t.cols) {
			return bad(fmt.Sprintf("the object has %d fields; expected the %d of the first line (%s)", len(obj), len(t.cols), strings.Join(t.cols, ", ")))
		}
		t.rows = append(t.rows, row)
	}
	if len(t.rows) == 0 {
		return nil, &LoadError{File: path, Line: 1, Column: 1, Msg: "no rows; expected one JSON object per line"}
	}
	return t, nil
}
