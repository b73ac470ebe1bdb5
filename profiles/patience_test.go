package profiles

import (
	"math/rand/v2"
	"testing"
	"time"
)

const sessionsProfile = `
workload: {model: closed, stages: "0->1 in 1s"}
patience: 100ms
order_value: 85.00
flows:
  - name: buyer
    steps:
      - {name: cart, method: POST, path: /c}
      - {name: slow_ok, path: /s, patience: 80ms..300ms}
      - {name: quiet, path: /q, patience: none}
      - {name: pay, method: POST, path: /p, sale: true, patience: {wait: exp(150ms), on_error: true}}
  - name: browser
    patience: {wait: 2s}
    steps:
      - {name: look, path: /l, sale: {value: 42.50}}
      - {name: sample, path: /f, sale: {value: 0}}
  - name: calm
    patience: none
    steps:
      - {name: walk, path: /w}
`

func TestPatienceAndSaleLoad(t *testing.T) {
	p, err := Load("t.yaml", []byte(sessionsProfile), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	buyer, browser, calm := p.Flows[0], p.Flows[1], p.Flows[2]
	if !buyer.Patience.Active() || buyer.Patience.Wait != (Think{Kind: ThinkConstant, Min: 100 * time.Millisecond, Max: 100 * time.Millisecond, Mean: 100 * time.Millisecond}) || buyer.Patience.OnError {
		t.Errorf("buyer inherits the profile's 100ms: %+v", buyer.Patience)
	}
	if buyer.Steps[0].Patience != nil {
		t.Errorf("cart has no patience of its own: %+v", buyer.Steps[0].Patience)
	}
	if w := buyer.Steps[1].Patience.Wait; w.Kind != ThinkUniform || w.Min != 80*time.Millisecond || w.Max != 300*time.Millisecond {
		t.Errorf("slow_ok: %+v", w)
	}
	if q := buyer.Steps[2].Patience; q == nil || q.Active() {
		t.Errorf("quiet: patience none is an override, got %+v", q)
	}
	pay := buyer.Steps[3]
	if !pay.Sale || pay.SaleValue != 8500 || !pay.Patience.OnError || pay.Patience.Wait.Kind != ThinkExponential {
		t.Errorf("pay: sale %v value %d patience %+v", pay.Sale, pay.SaleValue, pay.Patience)
	}
	if !buyer.HasSale || !browser.HasSale || calm.HasSale {
		t.Errorf("HasSale: %v %v %v", buyer.HasSale, browser.HasSale, calm.HasSale)
	}
	if browser.Patience.Wait.Min != 2*time.Second || browser.Steps[0].SaleValue != 4250 {
		t.Errorf("browser: %+v, value %d", browser.Patience, browser.Steps[0].SaleValue)
	}
	// An explicit value wins over order_value:, 0 included (a free order).
	if free := browser.Steps[1]; !free.Sale || free.SaleValue != 0 {
		t.Errorf("sample: sale {value: 0} is a sale worth 0, got sale %v value %d", free.Sale, free.SaleValue)
	}
	if calm.Patience != nil {
		t.Errorf("calm: patience none turns the profile's off, got %+v", calm.Patience)
	}
	if !p.TracksSessions() {
		t.Error("TracksSessions false")
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 100; i++ {
		if d := buyer.Steps[1].Patience.Draw(r); d < 80*time.Millisecond || d > 300*time.Millisecond {
			t.Fatalf("draw %v outside 80ms..300ms", d)
		}
	}
	plain, err := Builtin("smoke")
	if err != nil {
		t.Fatal(err)
	}
	if plain.TracksSessions() {
		t.Error("smoke has no patience or sale, but TracksSessions")
	}
}

// TestStepPatienceNoneIsNoPatience: a step's `patience: none` opts out of
// its flow's patience; alone it lets no one abandon, so the run must say
// abandonment was not measured rather than report 0%.
func TestStepPatienceNoneIsNoPatience(t *testing.T) {
	const src = `
workload: {model: closed, stages: "0->1 in 1s"}
flows:
  - name: f
    steps:
      - {name: a, path: /a, patience: none}
      - {name: b, path: /b, patience: none}
`
	p, err := Load("t.yaml", []byte(src), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if p.HasPatience() || p.TracksSessions() {
		t.Errorf("only inactive step patiences: HasPatience %v, TracksSessions %v, want both false", p.HasPatience(), p.TracksSessions())
	}
	p.Flows[0].Steps[1].Patience = &Patience{Wait: Think{Kind: ThinkConstant, Min: time.Second, Max: time.Second, Mean: time.Second}}
	if !p.HasPatience() {
		t.Error("an active step patience: HasPatience false")
	}
}

func TestPatienceAndSaleErrors(t *testing.T) {
	src := `
workload: {model: closed, stages: "0->1 in 1s"}
patience: soon
order_value: -3
flows:
  - name: f
    patience: {wait: 300ms..100ms, on_error: maybe}
    steps:
      - {name: a, path: /a, patience: [1s]}
      - {name: b, path: /b, sale: {value: lots}}
      - {name: c, path: /c, sale: yes please, patience: {on_error: true}}
`
	les := loadErrs(t, src)
	wantErr(t, les, at(t, "t.yaml", src, "soon", 1), `patience: cannot read "soon"`)
	wantErr(t, les, at(t, "t.yaml", src, "-3", 1), "order_value", "out of range")
	wantErr(t, les, at(t, "t.yaml", src, "300ms..100ms", 1), "flow f patience.wait", "above")
	wantErr(t, les, at(t, "t.yaml", src, "maybe", 1), "on_error: expected true or false")
	wantErr(t, les, at(t, "t.yaml", src, "[1s]", 1), "step a patience: expected a patience")
	wantErr(t, les, at(t, "t.yaml", src, "lots", 1), "sale.value: expected a number")
	wantErr(t, les, at(t, "t.yaml", src, "yes please", 1), "sale: expected true or false")
	wantErr(t, les, at(t, "t.yaml", src, "{on_error: true}", 1), "missing wait:")
}
