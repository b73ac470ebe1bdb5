package target

import (
	"fmt"
	"os"
	"time"
)

// load locks the log against other processes, replays it and makes its end whole.
func (s *orderStore) load(dir string, logf func(format string, args ...any)) error {
	if err := lockFile(s.f, 2*time.Second); err != nil {
		return fmt.Errorf("order log %s: %w", s.path, err)
	}
	var accepted []uint64 // in log order
	end, err := readOrderLog(s.f, s.path, func(r OrderLogRecord) error {
		loc := orderLoc{off: r.JSONOffset, n: uint32(len(r.JSON)), decided: r.Kind == OrderDecided}
		old, known := s.index[r.Number]
		switch {
		case r.Kind == OrderAccepted && known:
			return fmt.Errorf("order %d accepted a second time", r.Number)
		case r.Kind == OrderAccepted:
			if n, dup := s.idem[r.Key]; dup {
				return fmt.Errorf("order %d: Idempotency-Key %q already belongs to order %d", r.Number, r.Key, n)
			}
			s.idem[r.Key] = r.Number
			accepted = append(accepted, r.Number)
			s.seq = max(s.seq, r.Number)
		case !known:
			return fmt.Errorf("decision on order %d, which was never accepted", r.Number)
		case old.decided:
			return fmt.Errorf("order %d decided a second time", r.Number)
		}
		s.index[r.Number] = loc
		return nil
	})
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	for _, n := range accepted {
		loc := s.index[n]
		if loc.decided {
			continue
		}
		rec, _, err := s.get(n)
		if err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		loc.reject = rec.check() != ""
		s.index[n] = loc
		s.queue = append(s.queue, n)
	}
	s.queued.Store(int64(len(s.queue)))
	s.end = end.Valid
	if end.Torn {
		fi, err := s.f.Stat()
		if err != nil {
			return fmt.Errorf("order log %s: %w", s.path, err)
		}
		logf("shard %d: order log %s: %s at offset %d; cutting off its last %d bytes (a write a crash cut short, never acknowledged)",
			s.shard, s.path, end.Why, end.Valid, fi.Size()-end.Valid)
		if err := s.f.Truncate(end.Valid); err != nil {
			return fmt.Errorf("order log %s: cut off a torn write at offset %d: %w", s.path, end.Valid, err)
		}
	}
	if s.end == 0 {
		if _, err := s.f.WriteAt([]byte(orderLogMagic), 0); err != nil {
			return fmt.Errorf("order log %s: write header: %w", s.path, err)
		}
		s.end = int64(len(orderLogMagic))
	}
	if err := fdatasync(s.f); err != nil {
		return fmt.Errorf("order log %s: %w", s.path, err)
	}
	return syncDir(dir)
}

// fileExists reports whether path names an existing file.
func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// syncDir makes the entries of dir (a created log) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync data dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync data dir %s: %w", dir, err)
	}
	return nil
}
