package profiles

import "errors"

// LoadFile loads and validates the profile at path; data files are read
// relative to its directory. An invalid profile gives LoadErrors.
func LoadFile(path string) (*Profile, error) { return nil, errors.New("profiles: TODO") }

// Load loads and validates a profile from src; name is used in error
// positions and dir is the base directory for data files.
func Load(name string, src []byte, dir string) (*Profile, error) {
	return nil, errors.New("profiles: TODO")
}
