package client_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/rushws/rushws/client"
)

// Serve the client on a net/http mux; a page imports it from
// "/rushws.js?v=" + client.Version(), which browsers may cache for a year.
func ExampleHandler() {
	mux := http.NewServeMux()
	mux.Handle("GET /rushws.js", client.Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/rushws.js?v=" + client.Version())
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(resp.Status)
	fmt.Println(resp.Header.Get("Content-Type"))
	fmt.Println(resp.Header.Get("Cache-Control"))

	// A browser that has it asks again with its ETag and gets 304.
	req, _ := http.NewRequest("GET", srv.URL+"/rushws.js", nil)
	req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(resp.Status)
	// Output:
	// 200 OK
	// text/javascript; charset=utf-8
	// public, max-age=31536000, immutable
	// 304 Not Modified
}

// A page template puts the version in the import URL.
func ExampleVersion() {
	src := "/rushws.js?v=" + client.Version()
	fmt.Println(len(src) == len("/rushws.js?v=")+16)
	// Output: true
}
