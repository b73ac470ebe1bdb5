package agents

import (
	"bytes"
	"time"

	"github.com/valyala/fasthttp"
)

// maxDecodedSize bounds an answer's body once decoded (a small compressed
// answer may unfold into a very large one).
const maxDecodedSize = 4 * maxBodySize

// answerBody is resp's body as checks and captures read it: decoded from
// its Content-Encoding (gzip, br, deflate, zstd, by fasthttp's decoders).
// An answer without one is returned as it is, at no cost.
func answerBody(resp *fasthttp.Response) ([]byte, error) {
	ce := resp.Header.ContentEncoding()
	if len(ce) == 0 || bytes.EqualFold(ce, []byte("identity")) {
		return resp.Body(), nil
	}
	return resp.BodyUncompressedWithLimit(maxDecodedSize)
}

// answeredResp checks and records the answer resp (see answered), decoded
// first; an answer that does not decode is a failed expectation "decode".
func (a *agent) answeredResp(now time.Time, resp *fasthttp.Response, header func(string) []byte) {
	body, err := answerBody(resp)
	if err != nil {
		a.uses++
		a.s.countFailure(a.info.id, "decode", resp.StatusCode())
		a.finish(now, classExpectFailed, resp.StatusCode(), nil)
		return
	}
	a.answered(now, resp.StatusCode(), body, header)
}
