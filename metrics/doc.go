// Package metrics exports a rushws hub's counters to Prometheus.
//
// Register a collector on the application's own registry (never the global
// one unless you pass it in) and serve that registry:
//
//	reg := prometheus.NewRegistry()
//	if err := metrics.Register(reg, hub); err != nil { ... }
//	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
//
// Every metric is named rushws_*, in base units (seconds, bytes), with
// _total on counters. The only labels are fixed sets: reason on
// rushws_connections_rejected_total and class on
// rushws_connections_closed_total (see core.CloseClass). Connection IDs,
// client addresses and room names are never labels, so no client can grow
// the number of series.
//
// The collector reads Hub.Stats once per scrape; between scrapes it costs
// nothing. Broker metrics (rushws_broker_*) appear when the hub has a
// broker.
//
// For HTTP request metrics of the rest of the app (echoprometheus, a Gin
// middleware), skip WebSocket handshakes with IsWebSocket: a hijacked
// request has no meaningful duration.
//
// # Concurrency
//
// A Collector is safe for concurrent use; NewCollector, Register and
// IsWebSocket may be called from any goroutine.
package metrics
