package target

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
)

// A shard's order log (OrderLogName in its data dir) is an append-only file: the 8 bytes of
// orderLogMagic, then records. A record is framed as
//
//	length  uint32 little endian: bytes of payload (at least 2, at most maxOrderLogRecord)
//	crc     uint32 little endian: CRC-32 (Castagnoli) of payload
//	payload kind byte, order number (uvarint), then by kind:
//	        OrderAccepted: idempotency key length (uvarint), key, the order's JSON
//	        OrderDecided:  the order's JSON after the worker created or rejected it
//
// The JSON is the order exactly as GET /v1/orders/{order_id} answers it, so a shard serves
// an order with one pread of its latest record. An order is queued while its accepted
// record has no decided record after it.
const (
	// OrderLogName is the file name of a shard's order log in its data dir.
	OrderLogName = "orders.log"
	// orderLogMagic starts every order log (format version 1).
	orderLogMagic = "AGSOLOG1"
	// orderLogHeader is the framing before a record's payload: length and checksum.
	orderLogHeader = 8
	// maxOrderLogRecord bounds one record's payload (an order of maxCartItems lines is a few
	// tens of KiB): a larger length read back is a torn or corrupt frame.
	maxOrderLogRecord = 16 << 20
)

// OrderLogKind is what a record of an order log says about its order.
type OrderLogKind byte

// Kinds of order log records.
const (
	OrderAccepted OrderLogKind = 'a' // the checkout was accepted: the order is queued
	OrderDecided  OrderLogKind = 'd' // the worker created or rejected the order
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// OrderLogRecord is one record of an order log as ReadOrderLog hands it out.
type OrderLogRecord struct {
	Kind   OrderLogKind
	Number uint64 // order number n of order id "o<shard>-<n>"
	Key    string // Idempotency-Key (OrderAccepted only)
	// JSON is the order as GET /v1/orders/{order_id} answers it. It is only valid during
	// the callback (copy it to keep it).
	JSON []byte
	// Offset is where the record's framing starts in the file; JSONOffset where its JSON
	// starts.
	Offset, JSONOffset int64
}

// OrderLogEnd is where ReadOrderLog stopped.
type OrderLogEnd struct {
	// Valid is the length of the file's valid prefix: the magic and every whole record.
	Valid int64
	// Torn is set when bytes after Valid are an incomplete or unreadable last write (a
	// crash mid-write): they hold no order that was ever acknowledged.
	Torn bool
	// Why says what is wrong with the bytes after Valid when Torn is set.
	Why string
}

// errOrderLogCorrupt marks a damaged record followed by valid ones: data that was durable
// is unreadable, which is never silently skipped.
var errOrderLogCorrupt = errors.New("corrupt order log record")

// appendOrderLogRecord appends the framed record (kind, n, key, json) to dst.
func appendOrderLogRecord(dst []byte, kind OrderLogKind, n uint64, key string, json []byte) []byte {
	dst, start := beginOrderLogRecord(dst, kind, n, key)
	return endOrderLogRecord(append(dst, json...), start)
}

// beginOrderLogRecord appends a record's framing and the head of its payload (kind, n and,
// for OrderAccepted, key) to dst and returns where the record starts: the caller appends the
// order's JSON and then seals the record with endOrderLogRecord.
func beginOrderLogRecord(dst []byte, kind OrderLogKind, n uint64, key string) ([]byte, int) {
	start := len(dst)
	dst = append(dst, make([]byte, orderLogHeader)...)
	dst = append(dst, byte(kind))
	dst = binary.AppendUvarint(dst, n)
	if kind == OrderAccepted {
		dst = binary.AppendUvarint(dst, uint64(len(key)))
		dst = append(dst, key...)
	}
	return dst, start
}

// endOrderLogRecord fills in the length and checksum of the record started at start.
func endOrderLogRecord(dst []byte, start int) []byte {
	payload := dst[start+orderLogHeader:]
	binary.LittleEndian.PutUint32(dst[start:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(dst[start+4:], crc32.Checksum(payload, castagnoli))
	return dst
}

// parseOrderLogPayload decodes a record's payload (its checksum already verified).
func parseOrderLogPayload(p []byte) (OrderLogRecord, error) {
	var r OrderLogRecord
	if len(p) < 2 {
		return r, errors.New("payload too short")
	}
	r.Kind = OrderLogKind(p[0])
	if r.Kind != OrderAccepted && r.Kind != OrderDecided {
		return r, fmt.Errorf("unknown record kind %q", p[0])
	}
	n, w := binary.Uvarint(p[1:])
	if w <= 0 || n == 0 {
		return r, errors.New("bad order number")
	}
	r.Number = n
	rest := p[1+w:]
	if r.Kind == OrderAccepted {
		kl, w := binary.Uvarint(rest)
		if w <= 0 || kl > uint64(len(rest)-w) {
			return r, errors.New("bad idempotency key length")
		}
		r.Key = string(rest[w : w+int(kl)])
		rest = rest[w+int(kl):]
	}
	if len(rest) == 0 {
		return r, errors.New("record without order JSON")
	}
	r.JSON = rest
	return r, nil
}

// ReadOrderLog reads the order log at path from the start and calls fn for every record in
// order. It stops at the end of the file or at a torn last write (see OrderLogEnd; it does not
// change the file). A damaged record followed by a valid one, a record that does not decode,
// or an error from fn is an error naming the file and offset.
func ReadOrderLog(path string, fn func(OrderLogRecord) error) (OrderLogEnd, error) {
	f, err := os.Open(path)
	if err != nil {
		return OrderLogEnd{}, fmt.Errorf("open order log: %w", err)
	}
	defer f.Close()
	return readOrderLog(f, path, fn)
}

// readOrderLog is ReadOrderLog on an open file (read from its start).
func readOrderLog(f *os.File, path string, fn func(OrderLogRecord) error) (OrderLogEnd, error) {
	fi, err := f.Stat()
	if err != nil {
		return OrderLogEnd{}, fmt.Errorf("order log %s: %w", path, err)
	}
	size := fi.Size()
	br := bufio.NewReaderSize(io.NewSectionReader(f, 0, size), 1<<20)
	var magic [len(orderLogMagic)]byte
	if _, err := io.ReadFull(br, magic[:]); err != nil || string(magic[:]) != orderLogMagic {
		if size < int64(len(magic)) && orderLogMagic[:size] == string(magic[:size]) {
			// Created but its magic never fully written.
			return OrderLogEnd{Torn: size > 0, Why: "incomplete file header"}, nil
		}
		return OrderLogEnd{}, fmt.Errorf("%s is not an order log (it does not start with %q): move it away or use another data dir", path, orderLogMagic)
	}
	off := int64(len(magic))
	var hdr [orderLogHeader]byte
	var buf []byte
	for off < size {
		// After a crash only the last write can be torn: a whole record further on means
		// the damage is in the middle, and cutting the log there would lose acknowledged
		// orders. The checksum covers the payload, not the length field, so a damaged
		// length is caught here too.
		torn := func(why string) (OrderLogEnd, error) {
			valid, err := validRecordFrom(f, off+1, size)
			if err != nil {
				return OrderLogEnd{}, fmt.Errorf("order log %s at offset %d: %w", path, off, err)
			}
			if valid {
				return OrderLogEnd{}, fmt.Errorf("order log %s at offset %d: %w (%s, valid records follow): the data dir's disk or file is damaged; restore it from a copy or use another data dir", path, off, errOrderLogCorrupt, why)
			}
			return OrderLogEnd{Valid: off, Torn: true, Why: why}, nil
		}
		if size-off < orderLogHeader {
			return torn(fmt.Sprintf("%d bytes, less than a record header", size-off))
		}
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return OrderLogEnd{}, fmt.Errorf("order log %s at offset %d: %w", path, off, err)
		}
		length := int64(binary.LittleEndian.Uint32(hdr[:]))
		sum := binary.LittleEndian.Uint32(hdr[4:])
		if length < 2 || length > maxOrderLogRecord {
			return torn(fmt.Sprintf("record length %d out of range", length))
		}
		if off+orderLogHeader+length > size {
			return torn(fmt.Sprintf("record of %d bytes runs past the end of the file", length))
		}
		if int64(cap(buf)) < length {
			buf = make([]byte, length)
		}
		buf = buf[:length]
		if _, err := io.ReadFull(br, buf); err != nil {
			return OrderLogEnd{}, fmt.Errorf("order log %s at offset %d: %w", path, off, err)
		}
		next := off + orderLogHeader + length
		if crc32.Checksum(buf, castagnoli) != sum {
			return torn("checksum mismatch")
		}
		r, err := parseOrderLogPayload(buf)
		if err != nil {
			return OrderLogEnd{}, fmt.Errorf("order log %s at offset %d: %w: %v", path, off, errOrderLogCorrupt, err)
		}
		r.Offset = off
		r.JSONOffset = next - int64(len(r.JSON))
		if err := fn(r); err != nil {
			return OrderLogEnd{}, fmt.Errorf("order log %s at offset %d: %w", path, off, err)
		}
		off = next
	}
	return OrderLogEnd{Valid: off}, nil
}

// validRecordFrom reports whether a whole record with a good checksum starts at any offset
// from from on. The rest of the file is read in one piece: after a torn write that is at
// most one batch; after damage further back it is all the log that follows, read once, when
// the shard starts.
func validRecordFrom(f *os.File, from, size int64) (bool, error) {
	if size-from < orderLogHeader {
		return false, nil
	}
	rest := make([]byte, size-from)
	if _, err := f.ReadAt(rest, from); err != nil {
		return false, err
	}
	for i := 0; i+orderLogHeader <= len(rest); i++ {
		length := int64(binary.LittleEndian.Uint32(rest[i:]))
		if length < 2 || length > maxOrderLogRecord || int64(i)+orderLogHeader+length > int64(len(rest)) {
			continue
		}
		p := rest[i+orderLogHeader : i+orderLogHeader+int(length)]
		if crc32.Checksum(p, castagnoli) == binary.LittleEndian.Uint32(rest[i+4:]) {
			return true, nil
		}
	}
	return false, nil
}
