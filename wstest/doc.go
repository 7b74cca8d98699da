// Package wstest drives a WebSocket server from tests, the way a browser
// app would, over a real connection.
//
// It speaks only the rushws wire protocol (text frames holding
// {"event":name,"data":...}, with an optional "ack" id that asks for one
// reply) and plain frames, so it tests any server that speaks that
// protocol, not just this library, and it tests what users see.
//
// A typical test dials the handler under test and states what should
// happen, step by step:
//
//	c := wstest.DialHandler(t, handler, "/ws", wstest.WithHeader(auth))
//	c.Emit("join", "lobby")
//	c.Expect("joined")
//	if r := c.EmitWithAck("chat", "hi"); r.Err != nil {
//		t.Fatalf("chat refused: %s", r.Err.Code)
//	}
//	outsider.ExpectNoEvent("chat", 100*time.Millisecond)
//	c.Send("not json")
//	c.ExpectError("bad_request")
//
// Each Expect call waits up to the timeout (2s unless [WithTimeout] says
// otherwise) and fails the test with what arrived instead. Frames that do
// not match are kept, in order, for later Expect calls. A refused handshake
// is tested with [TryDial], which returns the HTTP response. A
// [LogBuffer] catches what the server logs (a hub's Config.Logger, an
// http.Server's ErrorLog), for asserting on it.
//
// # Concurrency
//
// A [Client] belongs to one goroutine at a time, like a [testing.T]; only
// Close, CloseWith and Abort may be called from any goroutine. The Client
// reads only while one of its methods waits for a frame, so a test that
// stops calling them gets a client that stops reading and stops answering
// pings (after at most one more message, see below), as slow-consumer
// tests need.
//
// A read runs in a goroutine of its own rather than under a read deadline,
// because gorilla/websocket makes a read timeout permanent and
// [Client.ExpectNoEvent] must be able to wait in vain. A read that outlives
// its wait is picked up by the next call; there is at most one per Client,
// Close ends it, and [Dial] closes the Client when the test ends, so
// nothing is left behind for a goroutine-leak check.
package wstest
