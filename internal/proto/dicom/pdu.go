package dicom

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// PDU types (PS3.8 9.3).
const (
	pduAssociateRQ = 0x01
	pduAssociateAC = 0x02
	pduAssociateRJ = 0x03
	pduPData       = 0x04
	pduReleaseRQ   = 0x05
	pduReleaseRP   = 0x06
	pduAbort       = 0x07
)

// Bounds on what is kept from one association.
const (
	// maxControlPDU is the largest A-ASSOCIATE/RELEASE/ABORT PDU read;
	// larger ones are skipped unread and counted (a real RQ with 128
	// contexts stays under 20 KiB).
	maxControlPDU = 64 << 10
	// maxPDU is the largest PDU length believed at all; beyond it the
	// framing is considered lost (real maximum PDU sizes are a few MiB).
	maxPDU = 1 << 30
	// maxContexts is how many presentation contexts are kept.
	maxContexts = 128
	// maxSyntaxes is how many proposed transfer syntaxes are kept per
	// context.
	maxSyntaxes = 16
	// aeLen is the fixed size of an AE title field.
	aeLen = 16
	// associateFixed is the fixed part of an A-ASSOCIATE-RQ/AC body.
	associateFixed = 68
)

var errShort = errors.New("truncated")

// parseAssociate decodes the body (after the 6-byte PDU header) of an
// A-ASSOCIATE-RQ (ac false) or -AC. It returns what it could decode even
// with an error, which then says where the items went wrong.
func parseAssociate(body []byte, ac bool) (*Association, error) {
	if len(body) < associateFixed {
		return nil, fmt.Errorf("associate body %d bytes: %w", len(body), errShort)
	}
	a := &Association{
		ProtocolVersion: binary.BigEndian.Uint16(body[0:2]),
		CalledAE:        aeString(body[4 : 4+aeLen]),
		CallingAE:       aeString(body[4+aeLen : 4+2*aeLen]),
	}
	items := body[associateFixed:]
	for n := 0; len(items) > 0; n++ {
		if len(items) < 4 {
			return a, fmt.Errorf("item header at %d: %w", len(body)-len(items), errShort)
		}
		typ := items[0]
		l := int(binary.BigEndian.Uint16(items[2:4]))
		if 4+l > len(items) {
			return a, fmt.Errorf("item 0x%02x length %d overruns PDU: %w", typ, l, errShort)
		}
		v := items[4 : 4+l]
		items = items[4+l:]
		var err error
		switch typ {
		case 0x10:
			a.ApplicationContext = uidString(v)
		case 0x20, 0x21:
			if (typ == 0x21) != ac {
				// An RQ context in an AC or the reverse: keep going, the
				// rest may still be sound.
				continue
			}
			if len(a.Contexts) >= maxContexts {
				a.ContextsDropped++
				continue
			}
			var pc PresentationContext
			pc, err = parseContext(v, ac)
			if err == nil {
				a.Contexts = append(a.Contexts, pc)
				if ac && pc.Result != nil && *pc.Result == 0 {
					a.ContextsAccepted++
				}
			}
		case 0x50:
			err = parseUserInfo(v, a)
		}
		if err != nil {
			return a, fmt.Errorf("item 0x%02x: %w", typ, err)
		}
	}
	return a, nil
}

// parseContext decodes a presentation context item's value.
func parseContext(v []byte, ac bool) (PresentationContext, error) {
	var pc PresentationContext
	if len(v) < 4 {
		return pc, errShort
	}
	pc.ID = v[0]
	if ac {
		r := v[2]
		pc.Result = &r
		pc.ResultText = contextResultText(r)
	}
	sub := v[4:]
	for len(sub) > 0 {
		if len(sub) < 4 {
			return pc, errShort
		}
		typ := sub[0]
		l := int(binary.BigEndian.Uint16(sub[2:4]))
		if 4+l > len(sub) {
			return pc, errShort
		}
		s := sub[4 : 4+l]
		sub = sub[4+l:]
		switch typ {
		case 0x30:
			pc.AbstractSyntax = uidString(s)
			pc.AbstractSyntaxName = UIDName(pc.AbstractSyntax)
		case 0x40:
			if ac {
				pc.TransferSyntax = uidString(s)
			} else if len(pc.TransferSyntaxes) < maxSyntaxes {
				pc.TransferSyntaxes = append(pc.TransferSyntaxes, uidString(s))
			}
		}
	}
	return pc, nil
}

// parseUserInfo decodes the user information item's sub-items into a.
func parseUserInfo(v []byte, a *Association) error {
	for len(v) > 0 {
		if len(v) < 4 {
			return errShort
		}
		typ := v[0]
		l := int(binary.BigEndian.Uint16(v[2:4]))
		if 4+l > len(v) {
			return errShort
		}
		s := v[4 : 4+l]
		v = v[4+l:]
		switch typ {
		case 0x51:
			if len(s) >= 4 {
				a.MaxPDULength = binary.BigEndian.Uint32(s)
			}
		case 0x52:
			a.ImplementationClassUID = uidString(s)
		case 0x55:
			a.ImplementationVersion = sanitize(trimValue(s), aeLen)
		case 0x54:
			a.RoleSelections++
		case 0x56:
			a.ExtendedNegotiations++
		case 0x58:
			// User identity: type, response requested, primary field
			// (user name, ticket, assertion), secondary field (passcode).
			// Only the user name of types 1 and 2 is kept.
			if len(s) >= 4 {
				a.UserIdentityType = s[0]
				pl := int(binary.BigEndian.Uint16(s[2:4]))
				if (s[0] == 1 || s[0] == 2) && 4+pl <= len(s) {
					a.UserIdentity = sanitize(s[4:4+pl], maxUID)
				}
			}
		}
	}
	return nil
}

// aeString decodes an AE title field: leading and trailing spaces are not
// significant (PS3.5 6.2), some implementations pad with NULs.
func aeString(b []byte) string {
	return sanitize(trimValue(b), aeLen)
}

// validAE says whether b could be an AE title field: default repertoire
// without backslash and control characters, NUL padding tolerated.
func validAE(b []byte) bool {
	for _, c := range b {
		if c == 0 {
			continue
		}
		if c < 0x20 || c > 0x7e || c == '\\' {
			return false
		}
	}
	return true
}

// contextResultText names a presentation context result (PS3.8 9.3.3.2).
func contextResultText(r uint8) string {
	switch r {
	case 0:
		return "acceptance"
	case 1:
		return "user-rejection"
	case 2:
		return "no-reason (provider rejection)"
	case 3:
		return "abstract-syntax-not-supported (provider rejection)"
	case 4:
		return "transfer-syntaxes-not-supported (provider rejection)"
	}
	return "unknown"
}

// parseReject decodes an A-ASSOCIATE-RJ body.
func parseReject(body []byte) (*Reject, error) {
	if len(body) < 4 {
		return nil, fmt.Errorf("reject body %d bytes: %w", len(body), errShort)
	}
	r := &Reject{Result: body[1], Source: body[2], Reason: body[3]}
	r.ResultText, r.SourceText, r.ReasonText = rejectText(r.Result, r.Source, r.Reason)
	return r, nil
}

// rejectText puts an A-ASSOCIATE-RJ's codes into words (PS3.8 9.3.4).
func rejectText(result, source, reason uint8) (string, string, string) {
	res := "unknown"
	switch result {
	case 1:
		res = "rejected-permanent"
	case 2:
		res = "rejected-transient"
	}
	src, why := "unknown", "unknown"
	switch source {
	case 1:
		src = "service-user"
		switch reason {
		case 1:
			why = "no-reason-given"
		case 2:
			why = "application-context-name-not-supported"
		case 3:
			why = "calling-AE-title-not-recognized"
		case 7:
			why = "called-AE-title-not-recognized"
		default:
			why = "reserved"
		}
	case 2:
		src = "service-provider (ACSE)"
		switch reason {
		case 1:
			why = "no-reason-given"
		case 2:
			why = "protocol-version-not-supported"
		}
	case 3:
		src = "service-provider (presentation)"
		switch reason {
		case 1:
			why = "temporary-congestion"
		case 2:
			why = "local-limit-exceeded"
		default:
			why = "reserved"
		}
	}
	return res, src, why
}

// parseAbort decodes an A-ABORT body.
func parseAbort(body []byte) (*Abort, error) {
	if len(body) < 4 {
		return nil, fmt.Errorf("abort body %d bytes: %w", len(body), errShort)
	}
	a := &Abort{Source: body[2], Reason: body[3]}
	a.SourceText, a.ReasonText = abortText(a.Source, a.Reason)
	return a, nil
}

// abortText puts an A-ABORT's codes into words (PS3.8 9.3.8).
func abortText(source, reason uint8) (string, string) {
	switch source {
	case 0:
		return "service-user", "not-significant"
	case 2:
		switch reason {
		case 0:
			return "service-provider", "reason-not-specified"
		case 1:
			return "service-provider", "unrecognized-PDU"
		case 2:
			return "service-provider", "unexpected-PDU"
		case 4:
			return "service-provider", "unrecognized-PDU-parameter"
		case 5:
			return "service-provider", "unexpected-PDU-parameter"
		case 6:
			return "service-provider", "invalid-PDU-parameter-value"
		}
		return "service-provider", "reserved"
	}
	return "reserved", "unknown"
}

// pdvHeader is the 6-byte header of a presentation data value item: item
// length (covering context ID and control header), context ID, message
// control header.
const pdvHeader = 6

// Message control header bits (PS3.8 E.2).
const (
	mchCommand = 0x01
	mchLast    = 0x02
)
