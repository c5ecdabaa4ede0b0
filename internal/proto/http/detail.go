package httpproto

// Observation kinds.
const (
	KindRequest  = "request"
	KindResponse = "response"
	KindSummary  = "summary"
)

// Request is the Detail of a "request" observation. It never holds query
// values, passwords or tokens; see docs/proto/http.md.
type Request struct {
	// Seq numbers the requests of the flow from 1.
	Seq    int    `json:"seq"`
	Method string `json:"method"`
	// Version is "HTTP/1.0" or "HTTP/1.1".
	Version string `json:"version"`
	Host    string `json:"host,omitempty"`
	// Path is the percent-decoded path without the query, at most 256
	// bytes; FHIR logical and version ids are replaced by {id} and {vid}.
	Path          string `json:"path,omitempty"`
	PathTruncated bool   `json:"path_truncated,omitempty"`
	// Params are the distinct query parameter names in order (at most
	// 16); values are never kept. ParamsOmitted counts components left
	// out because they did not look like names or were over the bound.
	Params        []string `json:"params,omitempty"`
	ParamsOmitted int      `json:"params_omitted,omitempty"`
	UserAgent     string   `json:"user_agent,omitempty"`
	// ContentType is the media type only (no parameters), lower case.
	ContentType   string `json:"content_type,omitempty"`
	ContentLength int64  `json:"content_length,omitempty"`
	Chunked       bool   `json:"chunked,omitempty"`
	// Auth is the Authorization (or Proxy-Authorization) scheme: basic,
	// digest, bearer, ntlm, negotiate, other.
	Auth string `json:"auth,omitempty"`
	// User is the Basic or Digest user name.
	User string `json:"user,omitempty"`
	// Realm is the Digest realm.
	Realm string `json:"realm,omitempty"`
	FHIR  *FHIR  `json:"fhir,omitempty"`
	// Attacks are the request inspector's verdicts (see RequestInspector):
	// attack class, pattern id, where and which parameter — never the
	// value.
	Attacks []Attack `json:"attacks,omitempty"`
}

// Response is the Detail of a "response" observation.
type Response struct {
	// Seq numbers the final (non-1xx) responses of the flow from 1.
	Seq           int    `json:"seq"`
	Version       string `json:"version"`
	Status        int    `json:"status"`
	Reason        string `json:"reason,omitempty"`
	Server        string `json:"server,omitempty"`
	ContentType   string `json:"content_type,omitempty"`
	ContentLength int64  `json:"content_length,omitempty"`
	Chunked       bool   `json:"chunked,omitempty"`
	// Challenges are the WWW-Authenticate / Proxy-Authenticate schemes.
	Challenges []string `json:"challenges,omitempty"`
	Realm      string   `json:"realm,omitempty"`
	// RequestMethod and RequestPath are those of the request this answers,
	// when the flow's order allows pairing.
	RequestMethod string `json:"request_method,omitempty"`
	RequestPath   string `json:"request_path,omitempty"`
	FHIR          *FHIR  `json:"fhir,omitempty"`
}

// FHIR describes a FHIR REST request or response.
type FHIR struct {
	// Resource is the resource type in the path (R4 list).
	Resource string `json:"resource,omitempty"`
	// Operation is the REST interaction: read, vread, search, create,
	// update, patch, delete, history, capabilities, transaction, batch,
	// operation.
	Operation string `json:"operation,omitempty"`
	// OpName is the extended operation's name, "$everything".
	OpName string `json:"op_name,omitempty"`
	// Body lists the resource types in the first 4 KiB of the body: the
	// document's type first, then distinct nested types (at most 8).
	Body []string `json:"body,omitempty"`
	// BundleType is Bundle.type when the body is a Bundle.
	BundleType string `json:"bundle_type,omitempty"`
}

// Summary is the Detail of the "summary" observation a flow gets at its
// end when it had more messages than were reported, or trouble.
type Summary struct {
	Requests            int `json:"requests"`
	Responses           int `json:"responses"`
	RequestsUnreported  int `json:"requests_unreported,omitempty"`
	ResponsesUnreported int `json:"responses_unreported,omitempty"`
	// Status counts final responses by class: index 0 is 1xx … 4 is 5xx.
	Status [5]int `json:"status_classes"`
	// Unauthorized and Forbidden count 401 (and 407) and 403 responses:
	// failed logins.
	Unauthorized int `json:"unauthorized,omitempty"`
	Forbidden    int `json:"forbidden,omitempty"`
	// AuthAttempts counts requests with an Authorization header.
	AuthAttempts int `json:"auth_attempts,omitempty"`
	// Users are the distinct Basic/Digest user names (at most 8).
	Users []string `json:"users,omitempty"`
	// Malformed counts message heads that could not be parsed;
	// HeaderTooLong says a head exceeded 32 KiB and dissection stopped.
	Malformed     int  `json:"malformed,omitempty"`
	HeaderTooLong bool `json:"header_too_long,omitempty"`
	// Resyncs counts losses of message framing after a capture gap.
	Resyncs int `json:"resyncs,omitempty"`
}
