package agents

import (
	"bytes"
	"errors"
	"time"

	"github.com/valyala/fasthttp"
)

// answerBody is resp's body as checks and captures read it: decoded from
// its Content-Encoding (gzip, br, deflate, zstd, by fasthttp's decoders),
// at most maxBody bytes once decoded (a small compressed answer may unfold
// into a very large one). An answer without one is returned as it is, at
// no cost.
func answerBody(resp *fasthttp.Response, maxBody int) ([]byte, error) {
	ce := resp.Header.ContentEncoding()
	if len(ce) == 0 || bytes.EqualFold(ce, []byte("identity")) {
		return resp.Body(), nil
	}
	return resp.BodyUncompressedWithLimit(maxBody)
}

// answeredResp checks and records the answer resp (see answered), decoded
// first: one over the body cap once decoded is body_too_large, one that
// does not decode a failed expectation "decode".
func (a *agent) answeredResp(now time.Time, resp *fasthttp.Response, header func(string) []byte) {
	body, err := answerBody(resp, a.s.cfg.MaxBodySize)
	if err != nil {
		a.uses++
		class := classBodyTooLarge
		if !errors.Is(err, fasthttp.ErrBodyTooLarge) {
			class = classExpectFailed
			a.s.countFailure(a.info.id, "decode", resp.StatusCode())
		}
		a.finish(now, class, resp.StatusCode(), nil)
		return
	}
	a.answered(now, resp.StatusCode(), body, header)
}
