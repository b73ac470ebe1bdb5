package profiles

import (
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Popularity is how SKUs are drawn.
type Popularity int

// The SKU popularity models.
const (
	// Uniform draws every SKU with the same chance.
	Uniform Popularity = iota
	// Zipf draws SKU k (1-based) with weight 1/k^Exponent.
	Zipf
	// Hot draws the hot SKU with probability Share, else uniformly among
	// the others (a flash drop, a pricing error).
	Hot
	// Weighted draws SKUs by the weight column of a data file.
	Weighted
)

// Population is who the agents are and what they buy. Customers, addresses
// and SKUs are generated from counts or read from data files.
type Population struct {
	regions     []string
	regionCum   []float64
	regionNodes []*yaml.Node // positions of the region names, for messages

	customers    int
	customerRows *table // nil when generated
	customerCol  int    // column of the customer id in customerRows, -1: generated ids

	addresses   int
	zones       []string
	addressRows *table
	addrCol     int
	zoneCol     int

	skus       int
	popularity Popularity
	exponent   float64
	hot        int
	share      float64
	skuCum     []float64 // Zipf and Weighted: cumulative weights, last is 1
	skuRows    *table
	skuCol     int
}

// table is a data file: a header naming the columns and rows of values.
type table struct {
	file string
	cols []string
	rows [][]string
}

func (t *table) col(name string) int {
	for i, c := range t.cols {
		if c == name {
			return i
		}
	}
	return -1
}

// Regions returns the region names in the order of the profile.
func (p *Population) Regions() []string { return p.regions }

// PickRegion draws a region by weight.
func (p *Population) PickRegion(r *rand.Rand) (index int, name string) {
	i := pickCum(p.regionCum, r.Float64())
	return i, p.regions[i]
}

// Customers returns the number of customers.
func (p *Population) Customers() int { return p.customers }

// Customer returns the customer index agent agentID shops as (stable for
// the agent; agents beyond the customer count share customers).
func (p *Population) Customer(agentID int) int {
	if agentID < 0 {
		agentID = -agentID
	}
	return agentID % p.customers
}

// AppendCustomerID appends customer i's id: the id column of the customer
// data file, or "cust-N" (N = i+1) when generated.
func (p *Population) AppendCustomerID(dst []byte, i int) []byte {
	i = clampIndex(i, p.customers)
	if p.customerRows != nil && p.customerCol >= 0 {
		return append(dst, p.customerRows.rows[i][p.customerCol]...)
	}
	dst = append(dst, "cust-"...)
	return strconv.AppendInt(dst, int64(i+1), 10)
}

// Addresses returns the number of addresses.
func (p *Population) Addresses() int { return p.addresses }

// PickAddress draws an address index uniformly.
func (p *Population) PickAddress(r *rand.Rand) int { return r.IntN(p.addresses) }

var streets = [...]string{"Market", "Elm", "Harbor", "Sakura", "Linden", "Mission", "Canal", "Hill"}

// AppendAddress appends address i as one line.
func (p *Population) AppendAddress(dst []byte, i int) []byte {
	i = clampIndex(i, p.addresses)
	if p.addressRows != nil {
		return append(dst, p.addressRows.rows[i][p.addrCol]...)
	}
	dst = strconv.AppendInt(dst, int64(1+i%997), 10)
	dst = append(dst, ' ')
	dst = append(dst, streets[(i/997)%len(streets)]...)
	dst = append(dst, " St, "...)
	return append(dst, p.zones[i%len(p.zones)]...)
}

// AppendZone appends the shipping zone of address i (a country code or a US ZIP code, e.g. "DE" or "10001").
func (p *Population) AppendZone(dst []byte, i int) []byte {
	i = clampIndex(i, p.addresses)
	if p.addressRows != nil {
		if p.zoneCol < 0 {
			return dst
		}
		return append(dst, p.addressRows.rows[i][p.zoneCol]...)
	}
	return append(dst, p.zones[i%len(p.zones)]...)
}

// SKUs returns the number of SKUs.
func (p *Population) SKUs() int { return p.skus }

// PickSKU draws a SKU index by popularity.
func (p *Population) PickSKU(r *rand.Rand) int {
	switch p.popularity {
	case Zipf, Weighted:
		return pickCum(p.skuCum, r.Float64())
	case Hot:
		if p.skus == 1 || r.Float64() < p.share {
			return p.hot
		}
		i := r.IntN(p.skus - 1)
		if i >= p.hot {
			i++
		}
		return i
	}
	return r.IntN(p.skus)
}

// AppendSKU appends SKU i's id: the sku column of the SKU data file, or
// "sku-NNNNN" (i+1, five digits at least) when generated.
func (p *Population) AppendSKU(dst []byte, i int) []byte {
	i = clampIndex(i, p.skus)
	if p.skuRows != nil {
		return append(dst, p.skuRows.rows[i][p.skuCol]...)
	}
	return appendSKUID(dst, i+1)
}

func appendSKUID(dst []byte, n int) []byte {
	dst = append(dst, "sku-"...)
	for d := 10000; d > 1 && n < d; d /= 10 {
		dst = append(dst, '0')
	}
	return strconv.AppendInt(dst, int64(n), 10)
}

// skuIndex returns the index of a SKU id, or -1.
func (p *Population) skuIndex(id string) int {
	if p.skuRows == nil {
		// Generated ids are "sku-" and the 1-based number, five digits at least.
		digits, ok := strings.CutPrefix(id, "sku-")
		n, err := strconv.Atoi(digits)
		if !ok || err != nil || n < 1 || n > p.skus || len(digits) < 5 || len(digits) > 5 && digits[0] == '0' {
			return -1
		}
		return n - 1
	}
	for i, row := range p.skuRows.rows {
		if row[p.skuCol] == id {
			return i
		}
	}
	return -1
}

func clampIndex(i, n int) int {
	if i < 0 || i >= n {
		if n <= 0 {
			return 0
		}
		i %= n
		if i < 0 {
			i += n
		}
	}
	return i
}

// pickCum returns the first index whose cumulative weight exceeds u.
func pickCum(cum []float64, u float64) int {
	i := sort.SearchFloat64s(cum, u)
	// SearchFloat64s finds cum[i] >= u; with u in [0,1) and cum[last]==1 we
	// want the first cum[i] > u.
	for i < len(cum)-1 && cum[i] <= u {
		i++
	}
	if i >= len(cum) {
		i = len(cum) - 1
	}
	return i
}

// cumulate turns weights into cumulative weights normalised to 1; ok is
// false when they sum to zero or less.
func cumulate(w []float64) (cum []float64, ok bool) {
	total := 0.0
	for _, x := range w {
		total += x
	}
	if !(total > 0) || math.IsInf(total, 0) {
		return nil, false
	}
	cum = make([]float64, len(w))
	acc := 0.0
	for i, x := range w {
		acc += x
		cum[i] = acc / total
	}
	cum[len(cum)-1] = 1
	return cum, true
}

func zipfCum(n int, s float64) []float64 {
	w := make([]float64, n)
	for k := range w {
		w[k] = 1 / math.Pow(float64(k+1), s)
	}
	cum, _ := cumulate(w)
	return cum
}
