package profiles

import "math/rand/v2"

func newTestContext(p *Profile) *Context {
	return &Context{Vars: p.NewVars(), Rand: rand.New(rand.NewPCG(1, 2)), AgentID: 7, Region: "eu-west", RegionIndex: 2, Customer: 41, Address: 3}
}

// stepNamed returns the first step of f called name.
func stepNamed(f *Flow, name string) *Step {
	for _, s := range f.Steps {
		if s.Name == name {
			return s
		}
	}
	return nil
}
