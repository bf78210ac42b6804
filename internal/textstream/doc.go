// Package textstream holds the stream plumbing shared by providers and transports: a capped output capture and its tee, a UTF-8 chunker, and a bounded input queue.
package textstream
