package mqtt

import "time"

// Observation kinds.
const (
	KindConnect     = "connect"
	KindConnack     = "connack"
	KindPublish     = "publish"
	KindSubscribe   = "subscribe"
	KindSuback      = "suback"
	KindUnsubscribe = "unsubscribe"
	KindUnsuback    = "unsuback"
	KindDisconnect  = "disconnect"
	KindSummary     = "session-summary"
)

// Connect is the Detail of a "connect" observation. The password is never
// kept: only whether one was sent.
type Connect struct {
	Direction       string `json:"direction"`
	ProtocolName    string `json:"protocol_name"`
	ProtocolLevel   int    `json:"protocol_level"`
	ClientID        string `json:"client_id"`
	CleanSession    bool   `json:"clean_session"`
	KeepAliveS      int    `json:"keep_alive_s"`
	Will            bool   `json:"will"`
	WillTopic       string `json:"will_topic,omitempty"`
	WillQoS         int    `json:"will_qos,omitempty"`
	WillRetain      bool   `json:"will_retain,omitempty"`
	UsernamePresent bool   `json:"username_present"`
	Username        string `json:"username,omitempty"`
	PasswordPresent bool   `json:"password_present"`
	// Truncated says the packet was longer than what was read, so fields
	// after the bound (will, user name) may be missing.
	Truncated bool `json:"truncated,omitempty"`
}

// Connack is the Detail of a "connack" observation.
type Connack struct {
	Direction      string `json:"direction"`
	SessionPresent bool   `json:"session_present"`
	// ReturnCode is the 3.1.1 return code or MQTT 5 reason code; 0 is
	// success.
	ReturnCode int  `json:"return_code"`
	Accepted   bool `json:"accepted"`
}

// Publish is the Detail of a "publish" observation: the first publication
// to each topic in each direction of a flow, and any later one whose
// payload shows patient keys not reported before.
type Publish struct {
	Direction  string `json:"direction"`
	Topic      string `json:"topic"`
	QoS        int    `json:"qos"`
	Retain     bool   `json:"retain,omitempty"`
	Dup        bool   `json:"dup,omitempty"`
	PacketID   int    `json:"packet_id,omitempty"`
	PayloadLen int    `json:"payload_len"`
	// PHIKeys names the patient-identifying keys found in the payload's
	// first bytes (never their values).
	PHIKeys []string `json:"phi_keys,omitempty"`
}

// Filter is one topic filter of a SUBSCRIBE (with its requested QoS) or
// an UNSUBSCRIBE.
type Filter struct {
	Topic string `json:"topic"`
	QoS   int    `json:"qos"`
}

// Subscribe is the Detail of "subscribe" and "unsubscribe" observations.
type Subscribe struct {
	Direction      string   `json:"direction"`
	PacketID       int      `json:"packet_id"`
	Filters        []Filter `json:"filters"`
	FiltersDropped int      `json:"filters_dropped,omitempty"`
}

// Suback is the Detail of "suback" and "unsuback" observations: granted
// QoS (0–2) or failure/reason codes (≥ 0x80), one per filter.
type Suback struct {
	Direction    string `json:"direction"`
	PacketID     int    `json:"packet_id"`
	Codes        []int  `json:"codes,omitempty"`
	CodesDropped int    `json:"codes_dropped,omitempty"`
}

// Disconnect is the Detail of a "disconnect" observation.
type Disconnect struct {
	Direction  string `json:"direction"`
	ReasonCode int    `json:"reason_code"`
}

// TopicStats counts the publications to one topic in one direction.
type TopicStats struct {
	Topic string `json:"topic"`
	// Direction is "publish" (client to broker) or "deliver" (broker to
	// subscriber).
	Direction    string    `json:"direction"`
	Count        int       `json:"count"`
	PayloadBytes uint64    `json:"payload_bytes"`
	First        time.Time `json:"first"`
	Last         time.Time `json:"last"`
	// RatePerS is the mean rate between the first and last publication,
	// (count−1)/(last−first); 0 with fewer than two.
	RatePerS float64 `json:"rate_per_s"`
}

// Summary is the Detail of the "session-summary" observation a flow emits
// at its end.
type Summary struct {
	ClientID      string `json:"client_id,omitempty"`
	ProtocolLevel int    `json:"protocol_level,omitempty"`
	// Publishes and Deliveries count PUBLISH packets from the client and
	// from the broker.
	Publishes  int `json:"publishes"`
	Deliveries int `json:"deliveries"`
	// Topics holds per-topic counts, at most Limits.MaxTopics entries;
	// TopicsDropped counts publications to topics beyond that.
	Topics        []TopicStats `json:"topics,omitempty"`
	TopicsDropped int          `json:"topics_dropped,omitempty"`
	PayloadBytes  uint64       `json:"payload_bytes"`
	// PublishRatePerS is the mean rate of all publications in the flow,
	// (n−1)/(last−first).
	PublishRatePerS float64        `json:"publish_rate_per_s"`
	Packets         map[string]int `json:"packets"`
	BytesToServer   uint64         `json:"bytes_to_server"`
	BytesToClient   uint64         `json:"bytes_to_client"`
	DurationS       float64        `json:"duration_s"`
	// RolesGuessed says no packet told client from broker (a flow seen
	// from its middle): directions follow the sensor's guess.
	RolesGuessed        bool `json:"roles_guessed,omitempty"`
	Malformed           int  `json:"malformed,omitempty"`
	Desyncs             int  `json:"desyncs,omitempty"`
	Gaps                int  `json:"gaps,omitempty"`
	ObservationsDropped int  `json:"observations_dropped,omitempty"`
}
