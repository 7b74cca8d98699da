package main

import (
	"fmt"
	"net"
)

// The demo's WebSocket accepts pages from its own address and the
// localhost twin of a loopback address, plus the -origin list.
func Example_allowedOrigins() {
	addr, _ := net.ResolveTCPAddr("tcp", "127.0.0.1:8080")
	fmt.Println(allowedOrigins(addr, "https://demo.example.com"))
	// Output: [http://127.0.0.1:8080 http://localhost:8080 https://demo.example.com]
}
