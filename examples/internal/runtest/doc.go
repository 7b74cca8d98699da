// Package runtest checks how a chat example serves and stops, the part of
// an app that tests on httptest never see: the HTTP server's limits and
// the order of the graceful shutdown on SIGINT or SIGTERM.
//
// Each example's test passes its run function to [Run]. Run is safe to
// call from parallel tests.
package runtest
