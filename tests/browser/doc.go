// Package browser holds the tests that drive the kit's pages in a real
// browser (headless Chromium through the DevTools protocol). It is a Go
// module of its own, so that the browser-automation libraries stay out of
// the kit's go.mod and out of every build that depends on the kit.
//
//	make setup-playground   # xterm.js and Chromium
//	cd tests/browser && go test -race -count=1 ./...
//
// Without Chromium or xterm.js the tests skip, and fail under CI=true.
package browser
