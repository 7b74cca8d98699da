// Package quote puts user input into errors and log lines the same way in
// every package of rushws: escaped as a Go string literal, so control
// characters and invalid UTF-8 cannot forge log lines, and cut to a few
// bytes, so a hostile client cannot flood a log, without splitting a UTF-8
// character.
//
// Its functions are pure and safe for concurrent use.
package quote
