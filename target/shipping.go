package target

import (
	"math"
	"strings"
)

// point is a place on the globe in degrees.
type point struct{ lat, lon float64 }

// regionOrigins are the warehouses the shards of each default region ship from.
var regionOrigins = map[string]point{
	"us-east":  {39.0, -77.5}, // northern Virginia
	"us-west":  {45.6, -121.2},
	"eu-west":  {53.3, -6.3}, // Dublin
	"ap-tokyo": {35.7, 139.7},
}

// countryPoints locate the destination country codes the rate model knows.
var countryPoints = map[string]point{
	"US": {39.8, -98.6}, "CA": {56.1, -106.3}, "MX": {23.6, -102.6}, "BR": {-14.2, -51.9},
	"GB": {55.4, -3.4}, "IE": {53.4, -8.2}, "FR": {46.2, 2.2}, "DE": {51.2, 10.5},
	"ES": {40.5, -3.7}, "IT": {41.9, 12.6}, "NL": {52.1, 5.3}, "SE": {60.1, 18.6},
	"PL": {51.9, 19.1}, "JP": {36.2, 138.3}, "KR": {35.9, 127.8}, "CN": {35.9, 104.2},
	"IN": {20.6, 79.0}, "SG": {1.35, 103.8}, "AU": {-25.3, 133.8}, "NZ": {-40.9, 174.9},
	"ZA": {-30.6, 22.9}, "AE": {23.4, 53.8},
}

// zipPoints locate US ZIP codes by their first digit (the national area).
var zipPoints = [10]point{
	{42.4, -71.4}, {41.0, -74.5}, {38.0, -78.0}, {30.5, -84.0}, {39.5, -84.5},
	{44.5, -93.5}, {39.0, -95.0}, {31.0, -97.0}, {39.5, -105.0}, {37.0, -120.0},
}

// destinationPoint resolves a destination code: a country code from countryPoints or a
// five-digit US ZIP code.
func destinationPoint(code string) (point, bool) {
	if len(code) == 5 {
		digits := true
		for i := 0; i < 5; i++ {
			digits = digits && code[i] >= '0' && code[i] <= '9'
		}
		if digits {
			return zipPoints[code[0]-'0'], true
		}
	}
	p, ok := countryPoints[strings.ToUpper(code)]
	return p, ok
}

// carrierRate is one carrier's tariff.
type carrierRate struct {
	baseCents, perKgCents, perZoneCents int64
	extraDays                           int
}

var carrierRates = map[string]carrierRate{
	"usps":  {450, 90, 60, 1},
	"ups":   {700, 110, 75, 0},
	"fedex": {750, 105, 80, 0},
	"dhl":   {900, 120, 55, 0},
}

// speedRate is one service level: a price multiplier (percent) and a transit time.
type speedRate struct {
	multPercent int64
	baseDays    int
	daysPerZone float64
}

var speedRates = map[string]speedRate{
	"economy":   {80, 4, 1.0},
	"standard":  {100, 2, 0.6},
	"express":   {180, 1, 0.3},
	"overnight": {320, 1, 0},
}

// sorted names of the carriers and speeds, for defaults and error messages.
var (
	carrierNames = []string{"dhl", "fedex", "ups", "usps"}
	speedNames   = []string{"economy", "standard", "express", "overnight"}
)

// quote is one price and ETA of the rate model.
type quote struct {
	destination, carrier, speed string
	priceCents                  int64
	etaDays                     int
	zone                        int
}

// zoneBetween is the shipping zone (1..9) between two places: one zone per 1,500 km.
func zoneBetween(a, b point) int {
	const r = 6371.0
	la1, la2 := a.lat*math.Pi/180, b.lat*math.Pi/180
	dla, dlo := la2-la1, (b.lon-a.lon)*math.Pi/180
	h := math.Sin(dla/2)*math.Sin(dla/2) + math.Cos(la1)*math.Cos(la2)*math.Sin(dlo/2)*math.Sin(dlo/2)
	km := 2 * r * math.Asin(math.Min(1, math.Sqrt(h)))
	z := 1 + int(km/1500)
	if z > 9 {
		z = 9
	}
	return z
}

// rateQuote prices one shipment from region of weightGrams to dest by carrier at speed. It
// is deterministic: the same inputs always give the same price and ETA. The names must have
// been validated.
func rateQuote(region string, weightGrams int64, dest, carrier, speed string) quote {
	origin, ok := regionOrigins[region]
	if !ok {
		origin = regionOrigins["us-east"]
	}
	dp, _ := destinationPoint(dest)
	zone := zoneBetween(origin, dp)
	cr, sr := carrierRates[carrier], speedRates[speed]
	if weightGrams < 100 {
		weightGrams = 100
	}
	kgCeil := (weightGrams + 999) / 1000
	price := (cr.baseCents + cr.perKgCents*kgCeil + cr.perZoneCents*int64(zone)) * sr.multPercent / 100
	eta := sr.baseDays + int(math.Ceil(float64(zone-1)*sr.daysPerZone)) + cr.extraDays
	return quote{destination: dest, carrier: carrier, speed: speed, priceCents: price, etaDays: eta, zone: zone}
}
