// Package chattest is the test suite that every chat example app passes: it
// serves the app on httptest and drives it with real WebSocket clients, so
// the apps differ only in their framework wiring and are tested alike.
//
// # Concurrency
//
// [Run] is called from a test's goroutine, like any *testing.T helper; the
// apps it starts are shut down before it returns.
package chattest
