package supervisor

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxAdminBody caps the body of an admin request.
const maxAdminBody = 64 << 10

// AdminHandler is the chaos admin API. Every call needs the header
// "Authorization: Bearer <token>"; errors are JSON {"error": "..."}.
//
//	GET    /v1/topology                region -> base URL, and every shard
//	GET    /admin/state                shards (up/killed/frozen, pid, url) and chaos settings
//	GET    /admin/events               the timestamped log of every action
//	POST   /admin/shards/{id}/kill     SIGKILL the shard's process
//	POST   /admin/shards/{id}/restore  restart on the same port and data (or thaw)
//	POST   /admin/shards/{id}/freeze   {"duration":"1s"}: SIGSTOP, SIGCONT after it
//	POST   /admin/inventory/fail       add-to-cart answers in pre-order mode
//	POST   /admin/inventory/restore
//	POST   /admin/latency              {"shard":0,"path":"/v1/carts","fixed":"150ms","jitter":"20ms"}
//	DELETE /admin/latency              clears every latency rule
//	POST   /admin/orders/pause         order workers stop creating orders
//	POST   /admin/orders/resume
func (s *Supervisor) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/topology", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Topology())
	})
	mux.HandleFunc("GET /admin/state", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.State())
	})
	mux.HandleFunc("GET /admin/events", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"events": s.Events()})
	})
	mux.HandleFunc("POST /admin/shards/{id}/kill", s.shardAction(func(r *http.Request, id int) error {
		if err := noBody(r); err != nil {
			return err
		}
		return s.Kill(id)
	}))
	mux.HandleFunc("POST /admin/shards/{id}/restore", s.shardAction(func(r *http.Request, id int) error {
		if err := noBody(r); err != nil {
			return err
		}
		return s.Restore(r.Context(), id)
	}))
	mux.HandleFunc("POST /admin/shards/{id}/freeze", s.shardAction(func(r *http.Request, id int) error {
		var body struct {
			Duration *jsonDuration `json:"duration"`
		}
		if err := decodeBody(r, &body); err != nil {
			return err
		}
		if body.Duration == nil {
			return badRequest(`missing field "duration": give e.g. {"duration":"1s"}`)
		}
		return s.Freeze(id, time.Duration(*body.Duration))
	}))
	mux.HandleFunc("POST /admin/inventory/fail", s.action(func(ctx context.Context) error {
		return s.SetInventoryFailed(ctx, true)
	}))
	mux.HandleFunc("POST /admin/inventory/restore", s.action(func(ctx context.Context) error {
		return s.SetInventoryFailed(ctx, false)
	}))
	mux.HandleFunc("POST /admin/orders/pause", s.action(func(ctx context.Context) error {
		return s.SetOrdersPaused(ctx, true)
	}))
	mux.HandleFunc("POST /admin/orders/resume", s.action(func(ctx context.Context) error {
		return s.SetOrdersPaused(ctx, false)
	}))
	mux.HandleFunc("POST /admin/latency", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Shard  *int          `json:"shard"`
			Path   string        `json:"path"`
			Fixed  *jsonDuration `json:"fixed"`
			Jitter *jsonDuration `json:"jitter"`
		}
		if err := decodeBody(r, &body); err != nil {
			writeError(w, err)
			return
		}
		if body.Fixed == nil && body.Jitter == nil {
			writeError(w, badRequest(`missing field "fixed" (and optional "jitter"): give e.g. {"fixed":"150ms","jitter":"20ms"}`))
			return
		}
		rule := LatencyRule{Shard: body.Shard, Path: body.Path}
		if body.Fixed != nil {
			rule.Fixed = time.Duration(*body.Fixed)
		}
		if body.Jitter != nil {
			rule.Jitter = time.Duration(*body.Jitter)
		}
		if err := s.AddLatency(r.Context(), rule); err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, s.State())
	})
	mux.HandleFunc("DELETE /admin/latency", s.action(func(ctx context.Context) error {
		return s.ClearLatency(ctx)
	}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if allow := allowedMethods(mux, r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeError(w, &httpError{status: http.StatusMethodNotAllowed,
				msg: fmt.Sprintf("%s %s: method not allowed, use %s", r.Method, r.URL.Path, strings.Join(allow, " or "))})
			return
		}
		writeError(w, &httpError{status: http.StatusNotFound,
			msg: fmt.Sprintf("no admin endpoint %s %s; see GET /v1/topology, GET /admin/state, GET /admin/events, POST /admin/shards/{id}/kill|restore|freeze, POST /admin/inventory/fail|restore, POST|DELETE /admin/latency, POST /admin/orders/pause|resume", r.Method, r.URL.Path)})
	})
	return s.authorize(mux)
}

// allowedMethods lists the methods mux serves r's path with, so a wrong
// method gets 405 rather than 404.
func allowedMethods(mux *http.ServeMux, r *http.Request) []string {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		r2 := r.Clone(r.Context())
		r2.Method = m
		if _, pattern := mux.Handler(r2); pattern != "/" && pattern != "" {
			allow = append(allow, m)
		}
	}
	return allow
}

// authorize answers 401 unless the request carries the admin token.
func (s *Supervisor) authorize(next http.Handler) http.Handler {
	want := []byte("Bearer " + s.token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="agentstorm-admin"`)
			msg := "missing admin token: send the header Authorization: Bearer <token> printed at start"
			if len(got) > 0 {
				msg = "wrong admin token in the Authorization header"
			}
			writeError(w, &httpError{status: http.StatusUnauthorized, msg: msg})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// shardAction wraps an action on the shard named by the {id} path segment;
// on success it answers 200 with the shard's state.
func (s *Supervisor) shardAction(fn func(r *http.Request, id int) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		idText := r.PathValue("id")
		id, err := strconv.Atoi(idText)
		if err != nil {
			writeError(w, badRequest(fmt.Sprintf("shard id %q in the path is not a number", idText)))
			return
		}
		if _, err := s.shard(id); err != nil {
			writeError(w, err)
			return
		}
		if err := fn(r, id); err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, s.State().Shards[id])
	}
}

// action wraps an action without parameters; it takes no body (an empty
// body or {} is fine) and answers 200 with the whole state.
func (s *Supervisor) action(fn func(ctx context.Context) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := noBody(r); err != nil {
			writeError(w, err)
			return
		}
		if err := fn(r.Context()); err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, s.State())
	}
}

// httpError is an error with the HTTP status it answers with.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(msg string) error { return &httpError{status: http.StatusBadRequest, msg: msg} }

// noBody accepts an absent or empty body, or an empty JSON object.
func noBody(r *http.Request) error {
	if r == nil || r.Body == nil {
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxAdminBody+1))
	if err != nil {
		return badRequest("read the request body: " + err.Error())
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "{}" {
		return nil
	}
	return badRequest("this endpoint takes no body (or {}), got " + strconv.Quote(string(truncate(b, 80))))
}

// decodeBody decodes a JSON object into v, refusing unknown fields,
// trailing data and bodies over maxAdminBody.
func decodeBody(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxAdminBody+1))
	if err != nil {
		return badRequest("read the request body: " + err.Error())
	}
	if len(b) > maxAdminBody {
		return &httpError{status: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("request body is over %d bytes", maxAdminBody)}
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return badRequest("request body is empty: want a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return badRequest(fmt.Sprintf("malformed JSON at byte %d: %v", se.Offset, err))
		case errors.As(err, &te):
			return badRequest(fmt.Sprintf("field %q: want a %s, got JSON %s", te.Field, te.Type, te.Value))
		default:
			return badRequest("bad JSON body: " + err.Error())
		}
	}
	if dec.More() {
		return badRequest("trailing data after the JSON object")
	}
	return nil
}

// jsonDuration decodes a Go duration string ("150ms", "1s") or a number of
// nanoseconds.
type jsonDuration time.Duration

// UnmarshalJSON implements json.Unmarshaler.
func (d *jsonDuration) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("duration: %w", err)
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("duration %q is not a Go duration like \"150ms\" or \"1s\"", s)
		}
		*d = jsonDuration(v)
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("duration %s is neither a string like \"150ms\" nor a whole number of nanoseconds", truncate(b, 40))
	}
	*d = jsonDuration(n)
	return nil
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return append(b[:n:n], "..."...)
	}
	return b
}

// writeError answers with err's status: 400/401/404/413 for httpError,
// 400 for ErrBadInput, 404 for ErrUnknownShard, 409 for ErrConflict, 503 for ErrClosed, 502
// when a shard could not be reached, 500 otherwise.
func writeError(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	var he *httpError
	switch {
	case errors.As(err, &he):
		status = he.status
	case errors.Is(err, ErrBadInput):
		status = http.StatusBadRequest
	case errors.Is(err, ErrUnknownShard):
		status = http.StatusNotFound
	case errors.Is(err, ErrConflict):
		status = http.StatusConflict
	case errors.Is(err, ErrClosed):
		status = http.StatusServiceUnavailable
	case errors.Is(err, ErrPush):
		status = http.StatusBadGateway
	}
	writeJSON(w, status, map[string]string{"error": err.Error()})
}

// writeJSON answers status with v as indented JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":"encode the answer: ` + strings.ReplaceAll(err.Error(), `"`, `'`) + `"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n')) //nolint:errcheck // the client may have gone
}
