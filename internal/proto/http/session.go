package httpproto

import (
	"bytes"
	"strings"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/proto"
)

// Per-flow bounds.
const (
	// maxReports is how many requests and how many responses of one flow
	// become observations; the rest are counted in the summary. A message
	// beyond it is still reported when it shows a weakness or fact the
	// flow has not shown yet, so nothing new is lost.
	maxReports = 32
	// maxPending bounds requests awaiting their response (pipelining).
	maxPending = 16
	// maxDynFacts bounds value-carrying facts per flow (a client
	// switching User-Agent on every request must not flood the stream).
	maxDynFacts = 16
	// maxUsers bounds the user names listed in the summary.
	maxUsers = 8
	// maxSkip is the most bytes skipped in one step; larger bodies take
	// several steps, which keeps the arithmetic within int on any
	// platform.
	maxSkip = 1 << 30
	// maxChunkLine bounds a chunk-size line with extensions.
	maxChunkLine = 1024
	// Field bounds.
	maxHost      = 255
	maxUserAgent = 256
	maxServer    = 128
	maxReason    = 64
	maxMedia     = 64
	maxUser      = 64
	maxRealm     = 128
)

// phase is where a direction is within its message stream.
type phase uint8

const (
	phHead      phase = iota // expecting a start line
	phBody                   // in a Content-Length body
	phChunkSize              // expecting a chunk-size line
	phChunkData              // in chunk data
	phChunkEnd               // expecting the CRLF after chunk data
	phTrailer                // in the trailer section
	phClose                  // body delimited by connection close
	phResync                 // framing lost; looking for a message start
	phDead                   // not HTTP; ignored
)

// weakness ids, each reported at most once per flow.
const (
	wBasic = 1 << iota
	wBearer
	wDigest
	wNTLM
	wQueryCred
	wPHIQuery
	wPHIRequestBody
	wPHIResponseBody
	wDefaultCred
	wOfferBasic
	wOfferDigest
	wOfferNTLM
	wOfferBearer
)

// fixed facts, each reported at most once per flow.
const (
	fClientHTTP = 1 << iota
	fServerHTTP
	fClientFHIR
	fServerFHIR
)

// pendingReq is a request awaiting its response.
type pendingReq struct {
	method      string
	path        string // as reported, "" when the request was not
	head        bool
	connect     bool
	fhir        bool
	resource    string // FHIR resource type and interaction, if fhir
	op          string
	defaultCred bool
}

// message is a message whose observation waits for the first bytes of
// its body (FHIR sniffing).
type message struct {
	active  bool
	isReq   bool
	meta    proto.Meta
	seq     int
	method  string
	status  int
	queued  int // requests: sequence of the pendingReq entry, for updates
	obs     *event.Observation
	fhir    *FHIR  // detail's FHIR part when reported
	resType string // resource type from the path
	op      string
	// inspect: the body goes to the RequestInspector when collected;
	// ctype is the request's Content-Type for that call.
	inspect bool
	ctype   []byte
}

// half is one direction's parsing state.
type half struct {
	phase  phase
	remain int64
	seen   bool // a message head parsed in this direction
	// lineStart: while resynchronising, the next byte begins a line.
	lineStart bool
	sniff     []byte
	msg       message
}

type session struct {
	conn      *proto.Conn
	out       proto.Sink
	checker   DefaultChecker
	inspector RequestInspector
	raw       RawRequest
	atk       []Attack

	h  [2]half
	hd head

	queue      [maxPending]pendingReq
	qHead      int
	qLen       int
	qSeq       int // sequence number of the next pushed entry
	unpaired   bool
	reqs       int
	resps      int
	reqsShown  int
	respsShown int
	sum        Summary
	done       bool
	ended      bool

	weak  uint32
	fixed uint32
	// last reported values of value-carrying facts.
	dyn                                   int
	lastUA, lastHost, lastServer          string
	lastClientOS, lastServerOS            string
	users                                 []string
	segs                                  [maxSegments][]byte
	params                                [maxParams][]byte
	pbuf                                  [maxParams * maxParamLen]byte
	scratch                               [3 * maxParamLen]byte
	basic                                 basicBuf
	facts                                 []event.Fact
	weaks                                 []event.Weakness
	phiParams                             []string
	nParams, paramsOmitted, paramsBufUsed int
}

func newSession(c *proto.Conn, out proto.Sink, checker DefaultChecker, inspector RequestInspector) *session {
	return &session{conn: c, out: out, checker: checker, inspector: inspector}
}

// Feed parses as many whole message heads and body parts as data holds.
func (s *session) Feed(dir proto.Dir, data []byte, m proto.Meta) (int, bool) {
	if s.done {
		return len(data), true
	}
	hs := &s.h[dir&1]
	pos := 0
	for pos < len(data) && !s.done {
		b := data[pos:]
		switch hs.phase {
		case phHead:
			n, ok := s.head(dir, hs, b, m)
			if !ok {
				return pos, s.done
			}
			pos += n
		case phBody:
			adv, complete := s.take(dir, hs, b)
			pos += adv
			if complete {
				s.bodyDone(dir, hs)
			}
		case phChunkSize:
			n, ok := s.chunkSize(dir, hs, b)
			if !ok {
				return pos, false
			}
			pos += n
		case phChunkData:
			adv, complete := s.take(dir, hs, b)
			pos += adv
			if complete {
				hs.phase = phChunkEnd
			}
		case phChunkEnd:
			switch {
			case b[0] == '\n':
				pos++
				hs.phase = phChunkSize
			case b[0] == '\r' && len(b) == 1:
				return pos, false
			case b[0] == '\r' && b[1] == '\n':
				pos += 2
				hs.phase = phChunkSize
			default:
				s.sum.Malformed++
				s.lose(dir, hs, true)
			}
		case phTrailer:
			n, ok := s.trailer(dir, hs, b)
			if !ok {
				return pos, false
			}
			pos += n
		case phClose:
			if hs.msg.active {
				s.sniffMore(dir, hs, b)
				pos = len(data)
				continue
			}
			return len(data) + maxSkip, false
		case phResync:
			n, found := resync(dir, hs, b)
			if !found {
				return pos + n, false
			}
			pos += n
			s.sum.Resyncs++
			hs.phase = phHead
		case phDead:
			if s.h[dir.Reverse()&1].phase == phDead {
				s.done = true
				return len(data), true
			}
			return len(data) + maxSkip, false
		}
	}
	if pos == len(data) && !s.done && !hs.msg.active {
		// The data ended where a body begins: skip it now rather than
		// have it delivered first.
		switch hs.phase {
		case phBody, phChunkData:
			adv, complete := s.take(dir, hs, nil)
			pos += adv
			if complete {
				if hs.phase == phBody {
					hs.phase = phHead
				} else {
					hs.phase = phChunkEnd
				}
			}
		case phClose:
			pos += maxSkip
		}
	}
	return pos, s.done
}

// head parses one message head at the start of b. ok is false when more
// data is needed (or the session is done).
func (s *session) head(dir proto.Dir, hs *half, b []byte, m proto.Meta) (int, bool) {
	var n int
	var err error
	if !plausibleStart(dir, b[skipBlankLines(b):]) {
		// Reject at once rather than wait for a line end that binary
		// data may never bring.
		err = errMalformed
	} else if dir == proto.ToServer {
		n, err = parseRequestHead(b, &s.hd)
	} else {
		n, err = parseResponseHead(b, &s.hd)
	}
	switch {
	case err == errTooLong:
		s.sum.HeaderTooLong = true
		s.done = true
		return 0, false
	case err != nil:
		s.sum.Malformed++
		if hs.seen {
			// Step past the bad start so that resynchronising cannot
			// find it again.
			s.lose(dir, hs, false)
			return 1, true
		}
		hs.phase = phDead
		return 0, true
	case n == 0:
		return 0, false
	}
	hs.seen = true
	if dir == proto.ToServer {
		s.request(hs, m, b[:n], b[n:])
	} else {
		s.response(hs, m)
	}
	return n, true
}

// lose gives up the framing of dir after a gap or a garbled message:
// pairing requests with responses is no longer reliable either. atLine
// says whether the next byte may start a message (after a gap or at a
// chunk boundary) or is inside a bad line.
func (s *session) lose(dir proto.Dir, hs *half, atLine bool) {
	s.finishSniff(dir, hs)
	hs.phase = phResync
	hs.remain = 0
	hs.lineStart = atLine
	s.unpaired = true
	s.qLen = 0
}

// resync looks for the start of a message at a line start in b; b[0] is
// one when hs.lineStart. It returns the message's offset and true, or how
// much of b can be dropped.
func resync(dir proto.Dir, hs *half, b []byte) (int, bool) {
	i := 0
	if !hs.lineStart {
		j := bytes.IndexByte(b, '\n')
		if j < 0 {
			return len(b), false
		}
		i = j + 1
	}
	for i < len(b) {
		switch startVerdict(dir, b[i:]) {
		case proto.Yes:
			return i, true
		case proto.Unsure:
			// A start line cut by the end of the data: keep it.
			hs.lineStart = true
			return i, false
		}
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			break
		}
		i += j + 1
	}
	hs.lineStart = len(b) > 0 && b[len(b)-1] == '\n'
	return len(b), false
}

// plausibleStart says whether b may begin a request line (a token
// method, then a space) or a status line. Methods beyond the probe's list
// are accepted once a flow is known to be HTTP (PURGE, SOURCE …).
func plausibleStart(dir proto.Dir, b []byte) bool {
	if dir == proto.ToClient {
		return probeResponse(b) != proto.No
	}
	for i, c := range b {
		if c == ' ' {
			return i > 0
		}
		if !tokenChar(c) || i >= 24 {
			return false
		}
	}
	return true
}

func startVerdict(dir proto.Dir, b []byte) proto.Verdict {
	if dir == proto.ToClient {
		return probeResponse(b)
	}
	return probeRequest(b)
}

// take handles body bytes at b for a part with hs.remain bytes left. It
// returns how far to advance (beyond b to skip unseen) and whether the
// part is complete.
func (s *session) take(dir proto.Dir, hs *half, b []byte) (int, bool) {
	if hs.msg.active {
		k := int64(len(b))
		if k > hs.remain {
			k = hs.remain
		}
		s.sniffMore(dir, hs, b[:k])
	}
	if int64(len(b)) >= hs.remain {
		n := int(hs.remain)
		hs.remain = 0
		return n, true
	}
	if hs.msg.active {
		hs.remain -= int64(len(b))
		return len(b), false
	}
	skip := hs.remain
	if skip > maxSkip {
		skip = maxSkip
	}
	hs.remain -= skip
	return int(skip), hs.remain == 0
}

// chunkSize parses a chunk-size line.
func (s *session) chunkSize(dir proto.Dir, hs *half, b []byte) (int, bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		if len(b) > maxChunkLine {
			s.sum.Malformed++
			s.lose(dir, hs, true)
			return 0, true
		}
		return 0, false
	}
	var size int64
	digits := 0
	for _, c := range b[:i] {
		v, ok := isHex(c)
		if !ok {
			break
		}
		digits++
		if digits > 15 {
			break
		}
		size = size<<4 | int64(v)
	}
	if digits == 0 || digits > 15 {
		s.sum.Malformed++
		s.lose(dir, hs, true)
		return 0, true
	}
	if size == 0 {
		hs.phase = phTrailer
	} else {
		hs.phase = phChunkData
		hs.remain = size
	}
	return i + 1, true
}

// trailer skips the trailer section after the last chunk.
func (s *session) trailer(dir proto.Dir, hs *half, b []byte) (int, bool) {
	pos := 0
	for {
		line, next, err := nextLine(b, pos)
		if err != nil {
			s.sum.Malformed++
			s.lose(dir, hs, true)
			return 0, true
		}
		if next == 0 {
			return 0, false
		}
		pos = next
		if len(line) == 0 {
			s.bodyDone(dir, hs)
			return pos, true
		}
	}
}

// bodyDone ends the current message of dir.
func (s *session) bodyDone(dir proto.Dir, hs *half) {
	s.finishSniff(dir, hs)
	hs.phase = phHead
}

// startBody sets the framing of the message whose head was just parsed.
func (hs *half) startBody(chunked bool, length int64, close bool) {
	switch {
	case chunked:
		hs.phase = phChunkSize
	case length > 0:
		hs.phase = phBody
		hs.remain = length
	case close:
		hs.phase = phClose
	default:
		hs.phase = phHead
	}
}

// Gap accounts for n bytes of dir the capture lost.
func (s *session) Gap(dir proto.Dir, n int) {
	if s.done {
		return
	}
	hs := &s.h[dir&1]
	switch hs.phase {
	case phBody, phChunkData:
		if int64(n) <= hs.remain {
			// Lost inside a body: the framing survives, the sniff
			// (if any) ends with what it had.
			hs.remain -= int64(n)
			s.finishSniff(dir, hs)
			if hs.remain == 0 {
				if hs.phase == phBody {
					hs.phase = phHead
				} else {
					hs.phase = phChunkEnd
				}
			}
			return
		}
	case phClose:
		s.finishSniff(dir, hs)
		return
	case phResync:
		hs.lineStart = true
		return
	case phDead:
		return
	}
	s.lose(dir, hs, true)
}

// End emits what the session still holds and the summary.
func (s *session) End(m proto.Meta) {
	if s.ended {
		return
	}
	s.ended = true
	for d := range s.h {
		s.finishSniff(proto.Dir(d), &s.h[d])
	}
	sum := s.sum
	sum.Requests = s.reqs
	sum.Responses = s.resps
	sum.RequestsUnreported = s.reqs - s.reqsShown
	sum.ResponsesUnreported = s.resps - s.respsShown
	sum.Users = s.users
	if sum.RequestsUnreported == 0 && sum.ResponsesUnreported == 0 && sum.Malformed == 0 &&
		!sum.HeaderTooLong && sum.Resyncs == 0 {
		return
	}
	o := s.conn.Observation(proto.ToServer, KindSummary, m)
	o.Detail = &sum
	s.out.Observe(o)
}

// --- requests ---

// credentialParams are query parameter names that carry a secret.
var credentialParams = []string{
	"password", "passwd", "pwd", "pass", "secret", "client_secret",
	"access_token", "id_token", "auth_token", "token", "api_key", "apikey",
}

// request reports the request whose head was just parsed; head is its
// raw bytes and rest what followed it in the data at hand (for the
// inspector only).
func (s *session) request(hs *half, m proto.Meta, head, rest []byte) {
	h := &s.hd
	s.reqs++
	s.facts, s.weaks = s.facts[:0], s.weaks[:0]
	method := knownMethod(h.method)
	path, query := splitTarget(method, h.target)

	// Query parameter names.
	s.nParams, s.paramsOmitted, s.paramsBufUsed = 0, 0, 0
	fhirParams, credParam := false, false
	paramNames(query, s.scratch[:], func(name []byte) {
		if !paramNameOK(name) {
			s.paramsOmitted++
			return
		}
		for i := 0; i < s.nParams; i++ {
			if bytes.Equal(s.params[i], name) {
				return
			}
		}
		if s.nParams == maxParams {
			s.paramsOmitted++
			return
		}
		buf := s.pbuf[s.paramsBufUsed : s.paramsBufUsed+len(name)]
		copy(buf, name)
		s.paramsBufUsed += len(name)
		s.params[s.nParams] = buf
		s.nParams++
		if isFHIRParam(name) {
			fhirParams = true
		}
		for _, c := range credentialParams {
			if bytes.EqualFold(name, []byte(c)) {
				credParam = true
			}
		}
	})

	// FHIR.
	var fp fhirPath
	nseg := segments(path, &s.segs)
	if nseg >= 0 {
		fp = classifyFHIR(method, s.segs[:nseg], fhirParams)
	} else {
		fp = fhirPath{idSeg: -1, vidSeg: -1}
	}
	media := fhirMedia(h.contentType) || fhirMedia(h.accept)
	isFHIR := media || (fp.ok && fp.strong)
	if isFHIR && !fp.ok && method == "POST" {
		fp.op = opTransaction
	}

	// Facts.
	s.fact(event.AboutSrc, event.AttrClient, "http", fClientHTTP)
	if isFHIR {
		s.fact(event.AboutSrc, event.AttrClient, "fhir", fClientFHIR)
	}
	if len(h.userAgent) > 0 && string(h.userAgent) != s.lastUA && s.dyn < maxDynFacts {
		s.lastUA = string(h.userAgent)
		ua, _ := cleanString(h.userAgent, maxUserAgent)
		s.dynFact(event.AboutSrc, event.AttrUserAgent, ua, 0.9)
		if os := osFromUserAgent(h.userAgent); os != "" && os != s.lastClientOS {
			s.lastClientOS = os
			s.dynFact(event.AboutSrc, event.AttrOS, os, 0.6)
		}
	}
	if len(h.host) > 0 && string(h.host) != s.lastHost && s.dyn < maxDynFacts {
		s.lastHost = string(h.host)
		if name := hostName(h.host); name != "" {
			s.dynFact(event.AboutDst, event.AttrHostname, name, 0.6)
		}
	}

	// Credentials.
	authV := h.auth
	if authV == nil {
		authV = h.proxyAuth
	}
	var scheme string
	var user, realm []byte
	defaultCred := false
	if authV != nil {
		s.sum.AuthAttempts++
		var rest []byte
		scheme, rest = authScheme(authV)
		switch scheme {
		case schemeBasic:
			u, pw, n, ok := decodeBasic(rest, &s.basic)
			if ok {
				user = u
				if s.checker != nil {
					defaultCred = s.checker.IsDefault(string(u), string(pw))
				}
			}
			s.weakness(wBasic, event.WeakCleartextCredentials, event.AboutDst,
				"HTTP Basic user name and password in cleartext")
			s.addUser(user)
			// user still points into s.basic: keep it until reported
			// below, then wipe the buffer.
			defer clear(s.basic[:n])
		case schemeDigest:
			user = authParam(rest, "username")
			realm = authParam(rest, "realm")
			s.addUser(user)
			s.weakness(wDigest, event.WeakCleartextLogin, event.AboutDst,
				"HTTP Digest login without TLS: user name visible, response open to offline guessing")
		case schemeBearer:
			s.weakness(wBearer, event.WeakCleartextCredentials, event.AboutDst,
				"HTTP bearer token in cleartext")
		case schemeNTLM:
			s.weakness(wNTLM, event.WeakCleartextLogin, event.AboutDst,
				"HTTP NTLM login without TLS: response open to offline guessing and relay")
		}
	}
	if credParam {
		s.weakness(wQueryCred, event.WeakCleartextCredentials, event.AboutDst,
			"password, token or key in a URL query parameter in cleartext")
	}
	if isFHIR && phiTypes[fp.resource] && fp.op == opSearch && s.weak&wPHIQuery == 0 {
		s.phiParams = s.phiParams[:0]
		for i := 0; i < s.nParams && len(s.phiParams) < 4; i++ {
			if identifyingParam(string(s.params[i])) {
				s.phiParams = append(s.phiParams, string(s.params[i]))
			}
		}
		if len(s.phiParams) > 0 {
			s.weakness(wPHIQuery, event.WeakCleartextPHI, event.AboutSrc,
				"FHIR "+fp.resource+" search by "+strings.Join(s.phiParams, ", ")+" in a cleartext URL")
		}
	}

	// Framing.
	hasBody := h.chunked || h.contentLength > 0
	if h.teOther {
		// A request body whose length cannot be known: RFC 9112 makes
		// this a 400; the rest of the direction cannot be framed.
		s.sum.Malformed++
		s.unpaired = true
	}
	// Attacks, while the raw target and head are at hand.
	var attacks []Attack
	inspectBody := false
	if s.inspector != nil {
		attacks, inspectBody = s.inspectHead(method, head, rest)
	}

	report := s.reqsShown < maxReports || len(s.facts) > 0 || len(s.weaks) > 0 || len(attacks) > 0
	var req *Request
	if report {
		s.reqsShown++
		req = s.buildRequest(method, path, fp, isFHIR, scheme, user, realm)
		req.Attacks = attacks
	}
	s.push(pendingReq{
		method:      method,
		path:        pathOf(req),
		head:        method == "HEAD",
		connect:     method == "CONNECT",
		fhir:        isFHIR,
		defaultCred: defaultCred,
		resource:    fp.resource,
		op:          fp.op,
	})
	var o *event.Observation
	if report {
		o = s.conn.Observation(proto.ToServer, KindRequest, m)
		o.Detail = req
		s.attach(o)
	}
	hs.startBody(h.chunked, h.contentLength, false)
	if h.teOther {
		hs.phase = phResync
	}
	msg := &hs.msg
	*msg = message{isReq: true, meta: m, seq: s.reqs, method: method, queued: s.qSeq - 1, obs: o,
		resType: fp.resource, op: fp.op}
	if req != nil {
		msg.fhir = req.FHIR
	}
	if hasBody && hs.phase != phResync && (s.wantSniff(h, isFHIR) || inspectBody) {
		msg.active = true
		if inspectBody {
			msg.inspect = true
			msg.ctype = append([]byte(nil), h.contentType...)
		}
		hs.sniff = hs.sniff[:0]
		return
	}
	if o != nil {
		s.out.Observe(o)
	}
}

func pathOf(r *Request) string {
	if r == nil {
		return ""
	}
	return r.Path
}

func (s *session) buildRequest(method string, path []byte, fp fhirPath, isFHIR bool, scheme string, user, realm []byte) *Request {
	h := &s.hd
	r := &Request{
		Seq:           s.reqs,
		Method:        method,
		Version:       version(h.minor),
		ContentLength: h.contentLength,
		Chunked:       h.chunked,
		Auth:          scheme,
	}
	if r.ContentLength < 0 {
		r.ContentLength = 0
	}
	if method == "" {
		r.Method, _ = cleanString(h.method, 24)
	}
	if len(h.host) > 0 {
		r.Host, _ = cleanString(h.host, maxHost)
	}
	if method == "CONNECT" {
		if r.Host == "" {
			r.Host, _ = cleanString(h.target, maxHost)
		}
	} else {
		r.Path, r.PathTruncated = s.reportPath(path, fp, isFHIR)
	}
	if s.nParams > 0 {
		r.Params = make([]string, s.nParams)
		for i := range r.Params {
			r.Params[i], _ = cleanString(s.params[i], maxParamLen)
		}
	}
	r.ParamsOmitted = s.paramsOmitted
	if len(h.userAgent) > 0 {
		r.UserAgent, _ = cleanString(h.userAgent, maxUserAgent)
	}
	r.ContentType = mediaType(h.contentType)
	if len(user) > 0 {
		r.User, _ = cleanString(user, maxUser)
	}
	if len(realm) > 0 {
		r.Realm, _ = cleanString(realm, maxRealm)
	}
	if isFHIR {
		r.FHIR = &FHIR{Resource: fp.resource, Operation: fp.op}
		if len(fp.opName) > 0 {
			r.FHIR.OpName = string(fp.opName)
		}
	}
	return r
}

// reportPath decodes the path for the observation; FHIR logical and
// version ids become placeholders, because servers that let clients pick
// ids are often given MRNs.
func (s *session) reportPath(path []byte, fp fhirPath, isFHIR bool) (string, bool) {
	if len(path) == 0 {
		return "/", false
	}
	buf := make([]byte, 0, len(path)+8)
	if isFHIR && (fp.idSeg >= 0 || fp.vidSeg >= 0) {
		n := segments(path, &s.segs)
		for i := 0; i < n; i++ {
			buf = append(buf, '/')
			switch i {
			case fp.idSeg:
				buf = append(buf, "{id}"...)
			case fp.vidSeg:
				buf = append(buf, "{vid}"...)
			default:
				buf = appendUnescaped(buf, s.segs[i], false)
			}
		}
	} else {
		buf = appendUnescaped(buf, path, false)
	}
	return cleanString(buf, maxPathLen)
}

func version(minor byte) string {
	switch minor {
	case 0:
		return "HTTP/1.0"
	case 1:
		return "HTTP/1.1"
	}
	return "HTTP/1." + string(rune('0'+minor))
}

// mediaType returns the lower-case media type of a Content-Type without
// parameters (a multipart boundary or charset says nothing useful).
func mediaType(v []byte) string {
	if i := bytes.IndexByte(v, ';'); i >= 0 {
		v = v[:i]
	}
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return ""
	}
	t, _ := cleanString(bytes.ToLower(v), maxMedia)
	return t
}

// wantSniff says whether a body's first bytes are worth a look for FHIR.
func (s *session) wantSniff(h *head, isFHIR bool) bool {
	if len(h.contentEncoding) > 0 && !bytes.EqualFold(h.contentEncoding, []byte("identity")) {
		// Compressed: the first bytes say nothing without inflating,
		// which a sensor must not do for every body.
		return false
	}
	ct := h.contentType
	if len(ct) == 0 {
		return isFHIR
	}
	return containsFold(ct, "json") || containsFold(ct, "xml") || fhirMedia(ct)
}

func (s *session) push(p pendingReq) {
	s.qSeq++
	if s.unpaired {
		return
	}
	if s.qLen == maxPending {
		// A client pipelining this deep without answers: pairing from
		// here on would be guesswork.
		s.unpaired = true
		s.qLen = 0
		return
	}
	s.queue[(s.qHead+s.qLen)%maxPending] = p
	s.qLen++
}

// queued returns the pending entry pushed as number seq, if still there.
func (s *session) queued(seq int) *pendingReq {
	if s.unpaired || s.qLen == 0 {
		return nil
	}
	first := s.qSeq - s.qLen
	if seq < first || seq >= s.qSeq {
		return nil
	}
	return &s.queue[(s.qHead+seq-first)%maxPending]
}

func (s *session) pop() (pendingReq, bool) {
	if s.unpaired || s.qLen == 0 {
		return pendingReq{}, false
	}
	p := s.queue[s.qHead]
	s.queue[s.qHead] = pendingReq{}
	s.qHead = (s.qHead + 1) % maxPending
	s.qLen--
	return p, true
}

func (s *session) addUser(u []byte) {
	if len(u) == 0 {
		return
	}
	for _, x := range s.users {
		if x == string(u) {
			return
		}
	}
	if len(s.users) < maxUsers {
		name, _ := cleanString(u, maxUser)
		s.users = append(s.users, name)
	}
}

// --- responses ---

func (s *session) response(hs *half, m proto.Meta) {
	h := &s.hd
	if h.status < 200 && h.status != 101 {
		// Interim (100 Continue, 102, 103): the final response follows.
		hs.phase = phHead
		return
	}
	s.facts, s.weaks = s.facts[:0], s.weaks[:0]
	s.resps++
	s.sum.Status[h.status/100-1]++
	switch h.status {
	case 401, 407:
		s.sum.Unauthorized++
	case 403:
		s.sum.Forbidden++
	}
	req, paired := s.pop()

	// The server is a FHIR server when it says so with a FHIR media
	// type, or answers a FHIR request with success and a body that may be
	// a resource (an HTML error page from a web server is not). A body
	// holding a FHIR resource also proves it (finishSniff).
	ct := h.contentType
	isFHIR := fhirMedia(ct) || (req.fhir && h.status < 400 &&
		(len(ct) == 0 || containsFold(ct, "json") || containsFold(ct, "xml")))
	s.fact(event.AboutSrc, event.AttrServer, "http", fServerHTTP)
	if isFHIR {
		s.fact(event.AboutSrc, event.AttrServer, "fhir", fServerFHIR)
		s.fact(event.AboutDst, event.AttrClient, "fhir", fClientFHIR)
	}
	if len(h.server) > 0 && string(h.server) != s.lastServer && s.dyn < maxDynFacts {
		s.lastServer = string(h.server)
		sw, _ := cleanString(h.server, maxServer)
		s.dynFact(event.AboutSrc, event.AttrSoftware, sw, 0.9)
		if os := osFromServer(h.server); os != "" && os != s.lastServerOS {
			s.lastServerOS = os
			s.dynFact(event.AboutSrc, event.AttrOS, os, 0.6)
		}
	}
	var challenges [maxChallenges]string
	nChal := 0
	var realm []byte
	for i := 0; i < h.nWWWAuth; i++ {
		sch, rest := authScheme(h.wwwAuth[i])
		if sch == "" {
			continue
		}
		challenges[nChal] = sch
		nChal++
		if realm == nil {
			realm = authParam(rest, "realm")
		}
		switch sch {
		case schemeBasic:
			s.weakness(wOfferBasic, event.WeakCleartextLogin, event.AboutSrc,
				"HTTP Basic authentication offered without TLS")
		case schemeDigest:
			s.weakness(wOfferDigest, event.WeakCleartextLogin, event.AboutSrc,
				"HTTP Digest authentication offered without TLS")
		case schemeNTLM:
			s.weakness(wOfferNTLM, event.WeakCleartextLogin, event.AboutSrc,
				"HTTP NTLM authentication offered without TLS")
		case schemeBearer:
			s.weakness(wOfferBearer, event.WeakCleartextLogin, event.AboutSrc,
				"HTTP bearer token authentication offered without TLS")
		}
	}
	if req.defaultCred && h.status >= 200 && h.status < 400 {
		s.weakness(wDefaultCred, event.WeakDefaultCredentials, event.AboutSrc,
			"HTTP Basic login with a default user name and password accepted")
	}

	report := s.respsShown < maxReports || len(s.facts) > 0 || len(s.weaks) > 0
	var o *event.Observation
	var resp *Response
	if report {
		s.respsShown++
		resp = &Response{
			Seq:           s.resps,
			Version:       version(h.minor),
			Status:        h.status,
			ContentLength: max(h.contentLength, 0),
			Chunked:       h.chunked,
			ContentType:   mediaType(h.contentType),
		}
		if len(h.reason) > 0 {
			resp.Reason, _ = cleanString(h.reason, maxReason)
		}
		if len(h.server) > 0 {
			resp.Server, _ = cleanString(h.server, maxServer)
		}
		if nChal > 0 {
			resp.Challenges = append([]string(nil), challenges[:nChal]...)
		}
		if len(realm) > 0 {
			resp.Realm, _ = cleanString(realm, maxRealm)
		}
		if paired {
			resp.RequestMethod, resp.RequestPath = req.method, req.path
		}
		if isFHIR || req.fhir {
			resp.FHIR = &FHIR{Resource: req.resource, Operation: req.op}
		}
		o = s.conn.Observation(proto.ToClient, KindResponse, m)
		o.Detail = resp
		s.attach(o)
	}

	// Framing (RFC 9112 section 6.3).
	tunnel := false
	switch {
	case h.status == 101, req.connect && h.status < 300:
		tunnel = true
	case req.head, h.status == 204, h.status == 304:
		hs.phase = phHead
	default:
		if h.teOther {
			// A transfer coding other than chunked last: the body
			// ends when the server closes.
			hs.startBody(false, -1, true)
		} else {
			hs.startBody(h.chunked, h.contentLength, h.contentLength < 0 && !h.chunked)
		}
	}
	hasBody := hs.phase != phHead && !tunnel
	msg := &hs.msg
	*msg = message{isReq: false, meta: m, seq: s.resps, status: h.status, obs: o}
	if resp != nil {
		msg.fhir = resp.FHIR
	}
	if tunnel {
		// The connection now carries another protocol (WebSocket, TLS
		// through a proxy …): nothing more for HTTP to read.
		if o != nil {
			s.out.Observe(o)
		}
		s.done = true
		return
	}
	if hasBody && s.wantSniff(h, isFHIR || req.fhir) {
		msg.active = true
		hs.sniff = hs.sniff[:0]
		return
	}
	if o != nil {
		s.out.Observe(o)
	}
}

// --- sniffing ---

// sniffMore adds body bytes to the sniff buffer and finishes the sniff
// once it holds sniffSize bytes.
func (s *session) sniffMore(dir proto.Dir, hs *half, b []byte) {
	if !hs.msg.active {
		return
	}
	if hs.sniff == nil {
		hs.sniff = make([]byte, 0, sniffSize)
	}
	room := sniffSize - len(hs.sniff)
	if len(b) > room {
		b = b[:room]
	}
	hs.sniff = append(hs.sniff, b...)
	if len(hs.sniff) >= sniffSize {
		s.finishSniff(dir, hs)
	}
}

// finishSniff decides what the collected body start says and emits the
// waiting observation.
func (s *session) finishSniff(dir proto.Dir, hs *half) {
	msg := &hs.msg
	if !msg.active {
		return
	}
	msg.active = false
	info := sniffBody(hs.sniff)
	var attacks []Attack
	if msg.inspect && s.inspector != nil {
		attacks = s.inspectBody(msg, hs.sniff)
	}
	clear(hs.sniff)
	hs.sniff = hs.sniff[:0]
	s.facts, s.weaks = s.facts[:0], s.weaks[:0]
	if info.top != "" {
		if msg.isReq {
			s.fact(event.AboutSrc, event.AttrClient, "fhir", fClientFHIR)
			if p := s.queued(msg.queued); p != nil {
				p.fhir = true
			}
		} else {
			s.fact(event.AboutSrc, event.AttrServer, "fhir", fServerFHIR)
			s.fact(event.AboutDst, event.AttrClient, "fhir", fClientFHIR)
		}
		var phi []string
		for _, t := range info.types() {
			if phiTypes[t] && len(phi) < 6 {
				phi = append(phi, t)
			}
		}
		if len(phi) > 0 {
			detail := "FHIR " + strings.Join(phi, ", ") + " resource"
			if len(phi) > 1 {
				detail += "s"
			}
			if info.top == "Bundle" {
				detail = "FHIR Bundle with " + strings.Join(phi, ", ") + " resources"
			}
			detail += " in cleartext HTTP"
			id := wPHIResponseBody
			if msg.isReq {
				id = wPHIRequestBody
			}
			s.weakness(uint32(id), event.WeakCleartextPHI, event.AboutSrc, detail)
		}
	}
	o := msg.obs
	if o == nil && (len(s.facts) > 0 || len(s.weaks) > 0 || len(attacks) > 0) {
		// Beyond the report bound, but the body showed something new.
		o = s.lateObservation(dir, msg)
	}
	if o == nil {
		return
	}
	if info.top != "" {
		f := msg.fhir
		if f == nil {
			f = &FHIR{Resource: msg.resType, Operation: msg.op}
			s.setFHIR(o, f)
		}
		f.Body = info.types()
		f.BundleType = info.bundleType
		if msg.isReq && info.top == "Bundle" && msg.method == "POST" && msg.resType == "" &&
			(info.bundleType == opTransaction || info.bundleType == opBatch) {
			f.Operation = info.bundleType
		}
	}
	if d, ok := o.Detail.(*Request); ok && len(attacks) > 0 {
		addAttacks(d, attacks)
	}
	s.attach(o)
	msg.obs = nil
	s.out.Observe(o)
}

// lateObservation builds a minimal observation for a message beyond the
// report bound.
func (s *session) lateObservation(dir proto.Dir, msg *message) *event.Observation {
	if msg.isReq {
		s.reqsShown++
		o := s.conn.Observation(proto.ToServer, KindRequest, msg.meta)
		o.Detail = &Request{Seq: msg.seq, Method: msg.method}
		return o
	}
	s.respsShown++
	o := s.conn.Observation(proto.ToClient, KindResponse, msg.meta)
	o.Detail = &Response{Seq: msg.seq, Status: msg.status}
	return o
}

func (s *session) setFHIR(o *event.Observation, f *FHIR) {
	switch d := o.Detail.(type) {
	case *Request:
		d.FHIR = f
	case *Response:
		d.FHIR = f
	}
}

// --- facts and weaknesses ---

// fact queues a fixed fact once per flow.
func (s *session) fact(about event.About, attr event.Attr, value string, id uint32) {
	if s.fixed&id != 0 {
		return
	}
	s.fixed |= id
	s.facts = append(s.facts, event.Fact{About: about, Attr: attr, Value: value, Confidence: 0.9})
}

// dynFact queues a value-carrying fact.
func (s *session) dynFact(about event.About, attr event.Attr, value string, conf float64) {
	if value == "" || s.dyn >= maxDynFacts {
		return
	}
	s.dyn++
	s.facts = append(s.facts, event.Fact{About: about, Attr: attr, Value: value, Confidence: conf})
}

// weakness queues a weakness once per flow.
func (s *session) weakness(id uint32, kind event.WeaknessKind, about event.About, detail string) {
	if s.weak&id != 0 {
		return
	}
	s.weak |= id
	s.weaks = append(s.weaks, event.Weakness{Kind: kind, About: about, Detail: detail})
}

// attach moves the queued facts and weaknesses onto o.
func (s *session) attach(o *event.Observation) {
	if len(s.facts) > 0 {
		o.Facts = append(o.Facts, s.facts...)
	}
	if len(s.weaks) > 0 {
		o.Weaknesses = append(o.Weaknesses, s.weaks...)
	}
	s.facts, s.weaks = s.facts[:0], s.weaks[:0]
}
