package metrics

import (
	"errors"
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/internal/quote"
)

// RejectReasons returns the reasons rushws_connections_rejected_total is
// labelled with out of the box: core.RejectReasons, those the hub and
// package middleware use. A refusal under any other reason (an HTTPError
// with a Reason of the application's own, or derived from an unusual
// status) counts as "other", unless Config.RejectReasons lists it.
func RejectReasons() []string { return core.RejectReasons() }

// otherReason is the label of refusals under a reason the collector does
// not list.
const otherReason = "other"

// Config configures a Collector. The zero Config is valid.
type Config struct {
	// ConstLabels are added to every metric, to tell apart several hubs in
	// one process ({"hub": "chat"}). Their values must come from the
	// program, never from requests. Optional. Default none.
	ConstLabels prometheus.Labels
	// RejectReasons adds reasons to those of RejectReasons, for
	// applications whose middleware refuses handshakes with HTTPError
	// reasons of their own. Keep the list short and fixed: each reason is
	// a series. Optional. Default none.
	RejectReasons []string
}

// Collector exports a hub's counters to Prometheus. It reads Hub.Stats on
// each scrape, so it costs nothing between scrapes and adds no work to the
// hub's hot paths. Its labels are fixed sets (reason, class), never
// connection IDs, client addresses or room names, so the number of series
// stays bounded whatever clients do.
//
// A Collector is safe for concurrent use, as the Prometheus registry
// requires.
type Collector struct {
	hub     *core.Hub
	reasons []string // sorted, "other" last

	connections, rooms                         *prometheus.Desc
	accepted, rejected, closed                 *prometheus.Desc
	messagesIn, messagesOut, bytesIn, bytesOut *prometheus.Desc
	errors, slowCloses, drops, pauses          *prometheus.Desc
	timeouts                                   *prometheus.Desc
	pingRTT, sendQueue                         *prometheus.Desc

	brokerPublished, brokerReceived, brokerPublishErrors *prometheus.Desc
	brokerDrops, brokerResubscribes                      *prometheus.Desc
	brokerSubscriptions, brokerConnected                 *prometheus.Desc

	recoveries, recoveryFailures, recoveryReplayed      *prometheus.Desc
	recoveryTakeovers, recoveryUnkept, recoveryStoreErr *prometheus.Desc

	// Authorization: events refused by event middleware, and upgrades
	// whose client's subprotocols were all ignored.
	eventsRefused, unnegotiated *prometheus.Desc
}

// NewCollector returns a collector for hub, to register on the
// application's own registry: reg.MustRegister(c). It returns an error
// for a nil hub, a const label that Prometheus refuses (a reserved or
// duplicate name, a value that is not UTF-8), or a reason that is not
// valid UTF-8.
func NewCollector(hub *core.Hub, cfg Config) (*Collector, error) {
	if hub == nil {
		return nil, errors.New("metrics: NewCollector needs a hub, got nil")
	}
	reasons := RejectReasons()
	for _, r := range cfg.RejectReasons {
		if r == "" || !utf8.ValidString(r) {
			return nil, fmt.Errorf("metrics: Config.RejectReasons: %s is not a valid label value", quote.Input(r, 64))
		}
		if r != otherReason && !slices.Contains(reasons, r) {
			reasons = append(reasons, r)
		}
	}
	slices.Sort(reasons)
	reasons = append(reasons, otherReason)

	c := &Collector{hub: hub, reasons: reasons}
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("rushws_"+name, help, labels, cfg.ConstLabels)
	}
	c.connections = desc("connections", "WebSocket connections open now.")
	c.rooms = desc("rooms", "Rooms that exist now (with at least one local member).")
	c.accepted = desc("connections_accepted_total", "WebSocket handshakes accepted (upgraded connections).")
	c.rejected = desc("connections_rejected_total", "WebSocket handshakes refused before the upgrade, by reason.", "reason")
	c.closed = desc("connections_closed_total", "Connections ended, by the class of their close code.", "class")
	c.messagesIn = desc("messages_received_total", "Messages received from clients.")
	c.messagesOut = desc("messages_sent_total", "Messages written to clients, one per recipient.")
	c.bytesIn = desc("received_bytes_total", "Payload bytes of the messages received from clients.")
	c.bytesOut = desc("sent_bytes_total", "Payload bytes of the messages written to clients, counted per recipient.")
	c.errors = desc("errors_total", "Handler errors and panics, invalid input that closed a connection, and failed handshakes.")
	c.slowCloses = desc("slow_consumer_closes_total", "Connections closed because their send queue stayed full (SlowClose policy).")
	c.drops = desc("dropped_messages_total", "Messages dropped for a connection whose send queue was full (SlowDrop policy).")
	c.pauses = desc("backpressure_pauses_total", "Times a connection's reads were paused because its writer was behind.")
	c.timeouts = desc("heartbeat_timeouts_total", "Connections closed because the peer stayed silent past the pong timeout.")
	c.pingRTT = desc("ping_rtt_seconds", "Round trip of the hub's heartbeat pings.")
	c.sendQueue = desc("send_queue_bytes", "Bytes a connection's writer found queued when it woke up.")
	c.brokerPublished = desc("broker_published_total", "Messages published to other hubs through the broker.")
	c.brokerReceived = desc("broker_received_total", "Messages received from other hubs through the broker.")
	c.brokerPublishErrors = desc("broker_publish_errors_total", "Publishes to the broker that failed or timed out; those messages reached no other hub.")
	c.brokerDrops = desc("broker_dropped_messages_total", "Messages from other hubs dropped because the hub's delivery buffer was full.")
	c.brokerResubscribes = desc("broker_resubscribes_total", "Reconnections to the broker after which the subscriptions were restored.")
	c.brokerSubscriptions = desc("broker_subscriptions", "Room channels subscribed on the broker now.")
	c.brokerConnected = desc("broker_connected", "1 while the broker's subscriber is connected, 0 otherwise.")
	c.recoveries = desc("recoveries_total", "Sessions recovered by reconnecting clients (connection state recovery).")
	c.recoveryFailures = desc("recovery_failures_total", "Recovery attempts that failed, by reason (core.RecoverReasons).", "reason")
	c.recoveryReplayed = desc("recovery_replayed_messages_total", "Messages replayed to recovered connections.")
	c.recoveryTakeovers = desc("recovery_takeovers_total", "Live connections closed because a recovery took over their session.")
	c.recoveryUnkept = desc("recovery_unkept_messages_total", "Sends delivered without being kept for recovery, because the store could not append them.")
	c.recoveryStoreErr = desc("recovery_store_errors_total", "Failed session and history store calls of connection state recovery.")
	c.eventsRefused = desc("events_refused_total",
		"Events refused by event middleware (authorization rules), by reason (core.EventRefuseReasons, else other).", "reason")
	c.unnegotiated = desc("subprotocols_unnegotiated_total",
		"Upgrades whose client offered subprotocols of which none was selected; browsers fail those connections.")

	// Check the descriptions (label names, const labels) the way a
	// registry would, so a mistake shows here rather than at Register.
	if err := prometheus.NewPedanticRegistry().Register(c); err != nil {
		return nil, fmt.Errorf("metrics: Config.ConstLabels: %w", err)
	}
	return c, nil
}

// Register registers a collector for hub, with the zero Config, on reg: the
// application's registry, never the global one unless it is passed in.
// Several hubs on one registry need collectors told apart by their labels:
// for the second hub, Register returns an error that says so (it wraps
// prometheus.AlreadyRegisteredError); register each hub's collector from
// NewCollector with its own Config.ConstLabels ({"hub": "chat"}) instead.
func Register(reg prometheus.Registerer, hub *core.Hub) error {
	if reg == nil {
		return errors.New("metrics: Register needs a prometheus.Registerer, got nil")
	}
	c, err := NewCollector(hub, Config{})
	if err != nil {
		return err
	}
	if err := reg.Register(c); err != nil {
		return registerError(err)
	}
	return nil
}

// registerError explains a registration that collides with a collector
// already on the registry: almost always a second hub's, with the same
// (or no) ConstLabels. It keeps err wrapped, so errors.As still finds
// prometheus.AlreadyRegisteredError.
func registerError(err error) error {
	const hint = `each hub on one registry needs its own collector labels: register it with NewCollector(hub, metrics.Config{ConstLabels: prometheus.Labels{"hub": "<name>"}}) and a distinct name per hub`
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		return fmt.Errorf("metrics: a rushws collector with the same ConstLabels is already registered (another hub's?); %s: %w", hint, err)
	}
	return fmt.Errorf("metrics: registering the collector: %w (if another hub's collector is on this registry, %s)", err, hint)
}

// Describe implements prometheus.Collector. It describes the broker's and
// recovery's metrics too; they are collected only while the hub has a
// broker, and recovery on.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.connections, c.rooms, c.accepted, c.rejected, c.closed,
		c.messagesIn, c.messagesOut, c.bytesIn, c.bytesOut,
		c.errors, c.slowCloses, c.drops, c.pauses, c.timeouts, c.pingRTT, c.sendQueue,
		c.brokerPublished, c.brokerReceived, c.brokerPublishErrors, c.brokerDrops,
		c.brokerResubscribes, c.brokerSubscriptions, c.brokerConnected,
		c.recoveries, c.recoveryFailures, c.recoveryReplayed, c.recoveryTakeovers, c.recoveryUnkept, c.recoveryStoreErr,
	} {
		ch <- d
	}
	ch <- c.eventsRefused
	ch <- c.unnegotiated
}

// Collect implements prometheus.Collector: one Hub.Stats snapshot per
// scrape. Every reason and close class is reported, zero or not, so
// rate() sees a series' first increase.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.hub.Stats()
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	histogram := func(d *prometheus.Desc, h core.Histogram) {
		ch <- prometheus.MustNewConstHistogram(d, h.Count, h.Sum, h.Cumulative())
	}

	gauge(c.connections, float64(s.Connections))
	gauge(c.rooms, float64(s.Rooms))
	counter(c.accepted, s.Accepted)
	var other uint64
	for reason, n := range s.Rejected {
		if !slices.Contains(c.reasons[:len(c.reasons)-1], reason) {
			other += n
		}
	}
	for _, reason := range c.reasons[:len(c.reasons)-1] {
		counter(c.rejected, s.Rejected[reason], reason)
	}
	counter(c.rejected, other, otherReason)
	for _, class := range core.CloseClasses() {
		counter(c.closed, s.Closes[class], class)
	}
	counter(c.messagesIn, s.MessagesIn)
	counter(c.messagesOut, s.MessagesOut)
	counter(c.bytesIn, s.BytesIn)
	counter(c.bytesOut, s.BytesOut)
	counter(c.errors, s.Errors)
	counter(c.slowCloses, s.SlowCloses)
	counter(c.drops, s.Drops)
	counter(c.pauses, s.Pauses)
	counter(c.timeouts, s.Timeouts)
	histogram(c.pingRTT, s.PingRTTHistogram)
	histogram(c.sendQueue, s.SendQueueHistogram)
	c.collectRefused(ch, s)

	if b := s.Broker; b != nil {
		counter(c.brokerPublished, b.Published)
		counter(c.brokerReceived, b.Received)
		counter(c.brokerPublishErrors, b.PublishErrors)
		counter(c.brokerDrops, b.Drops)
		counter(c.brokerResubscribes, b.Resubscribes)
		gauge(c.brokerSubscriptions, float64(b.Subscriptions))
		connected := 0.0
		if b.Connected {
			connected = 1
		}
		gauge(c.brokerConnected, connected)
	}
	if r := s.Recovery; r != nil {
		counter(c.recoveries, r.Recovered)
		for _, reason := range core.RecoverReasons() {
			counter(c.recoveryFailures, r.Failed[reason], reason)
		}
		counter(c.recoveryReplayed, r.Replayed)
		counter(c.recoveryTakeovers, r.TakenOver)
		counter(c.recoveryUnkept, r.Unkept)
		counter(c.recoveryStoreErr, r.StoreErrors)
	}
}

// collectRefused reports the events refused by reason: the reasons of
// core.EventRefuseReasons, each present, and "other" for any reason of the
// application's own, so the label stays a fixed set.
func (c *Collector) collectRefused(ch chan<- prometheus.Metric, s core.Stats) {
	known := core.EventRefuseReasons()
	var other uint64
	for reason, n := range s.EventsRefused {
		if !slices.Contains(known, reason) {
			other += n
		}
	}
	for _, reason := range known {
		ch <- prometheus.MustNewConstMetric(c.eventsRefused, prometheus.CounterValue, float64(s.EventsRefused[reason]), reason)
	}
	ch <- prometheus.MustNewConstMetric(c.eventsRefused, prometheus.CounterValue, float64(other), otherReason)
	ch <- prometheus.MustNewConstMetric(c.unnegotiated, prometheus.CounterValue, float64(s.UnnegotiatedSubprotocols))
}
