//go:build !linux

package target

import "errors"

// hasLoopServer is false here: shards serve with fasthttp's goroutines.
const hasLoopServer = false

func startLoopServer(*Shard, string, int, int, func(string, ...any)) (httpServer, error) {
	return nil, errors.New("event loops need Linux (epoll)")
}
