package dicom

import (
	"encoding/binary"
	"fmt"
)

// Command fields (PS3.7 E.1).
const (
	cStoreRQ  = 0x0001
	cGetRQ    = 0x0010
	cFindRQ   = 0x0020
	cMoveRQ   = 0x0021
	cEchoRQ   = 0x0030
	cCancelRQ = 0x0fff
	rspBit    = 0x8000
)

// Command set elements kept (group 0000).
const (
	tagAffectedSOPClass  = 0x00000002
	tagRequestedSOPClass = 0x00000003
	tagCommandField      = 0x00000100
	tagMessageID         = 0x00000110
	tagRespondingTo      = 0x00000120
	tagMoveDestination   = 0x00000600
	tagPriority          = 0x00000700
	tagDataSetType       = 0x00000800
	tagStatus            = 0x00000900
	tagRemaining         = 0x00001020
	tagCompleted         = 0x00001021
	tagFailed            = 0x00001022
	tagWarning           = 0x00001023
)

// dataSetNone is the CommandDataSetType value saying no data set follows.
const dataSetNone = 0x0101

// has bits of command.
const (
	hasField = 1 << iota
	hasMessageID
	hasRespondingTo
	hasPriority
	hasDataSetType
	hasStatus
	hasRemaining
	hasCompleted
	hasFailed
	hasWarning
)

// command is a decoded DIMSE command set.
type command struct {
	has         uint16
	field       uint16
	messageID   uint16
	respondTo   uint16
	priority    uint16
	dataSetType uint16
	status      uint16
	subops      [4]uint16 // remaining, completed, failed, warning
	sopClass    string
	moveDest    string
}

// dataSet says whether a data set follows the command.
func (c *command) dataSet() bool {
	return c.has&hasDataSetType != 0 && c.dataSetType != dataSetNone
}

func (c *command) isResponse() bool { return c.field&rspBit != 0 }

// parseCommand decodes a complete command set: implicit VR little endian
// elements of group 0000 (PS3.7 6.3.1), whatever the negotiated transfer
// syntax.
func parseCommand(b []byte) (command, error) {
	var c command
	for off := 0; off < len(b); {
		if len(b)-off < 8 {
			return c, fmt.Errorf("command element header at %d: %w", off, errShort)
		}
		group := binary.LittleEndian.Uint16(b[off:])
		tag := uint32(group)<<16 | uint32(binary.LittleEndian.Uint16(b[off+2:]))
		l := binary.LittleEndian.Uint32(b[off+4:])
		off += 8
		if group != 0 {
			return c, fmt.Errorf("element (%04x,%04x) outside group 0000 in command", group, uint16(tag))
		}
		if uint64(l) > uint64(len(b)-off) {
			return c, fmt.Errorf("command element (0000,%04x) length %d: %w", uint16(tag), l, errShort)
		}
		v := b[off : off+int(l)]
		off += int(l)
		us := func(bit uint16, dst *uint16) {
			if len(v) == 2 {
				*dst = binary.LittleEndian.Uint16(v)
				c.has |= bit
			}
		}
		switch tag {
		case tagAffectedSOPClass:
			c.sopClass = uidString(v)
		case tagRequestedSOPClass:
			if c.sopClass == "" {
				c.sopClass = uidString(v)
			}
		case tagCommandField:
			us(hasField, &c.field)
		case tagMessageID:
			us(hasMessageID, &c.messageID)
		case tagRespondingTo:
			us(hasRespondingTo, &c.respondTo)
		case tagMoveDestination:
			c.moveDest = aeString(v)
		case tagPriority:
			us(hasPriority, &c.priority)
		case tagDataSetType:
			us(hasDataSetType, &c.dataSetType)
		case tagStatus:
			us(hasStatus, &c.status)
		case tagRemaining, tagCompleted, tagFailed, tagWarning:
			i := int(tag - tagRemaining)
			us(hasRemaining<<i, &c.subops[i])
		}
	}
	if c.has&hasField == 0 {
		return c, fmt.Errorf("command set without command field")
	}
	return c, nil
}

// commandNames gives the name and observation kind of each command field.
func commandNames(field uint16) (name, kind string) {
	switch field {
	case 0x0001:
		return "C-STORE-RQ", "c-store-rq"
	case 0x8001:
		return "C-STORE-RSP", "c-store-rsp"
	case 0x0010:
		return "C-GET-RQ", "c-get-rq"
	case 0x8010:
		return "C-GET-RSP", "c-get-rsp"
	case 0x0020:
		return "C-FIND-RQ", "c-find-rq"
	case 0x8020:
		return "C-FIND-RSP", "c-find-rsp"
	case 0x0021:
		return "C-MOVE-RQ", "c-move-rq"
	case 0x8021:
		return "C-MOVE-RSP", "c-move-rsp"
	case 0x0030:
		return "C-ECHO-RQ", "c-echo-rq"
	case 0x8030:
		return "C-ECHO-RSP", "c-echo-rsp"
	case 0x0fff:
		return "C-CANCEL-RQ", "c-cancel-rq"
	case 0x0100:
		return "N-EVENT-REPORT-RQ", "n-event-report-rq"
	case 0x8100:
		return "N-EVENT-REPORT-RSP", "n-event-report-rsp"
	case 0x0110:
		return "N-GET-RQ", "n-get-rq"
	case 0x8110:
		return "N-GET-RSP", "n-get-rsp"
	case 0x0120:
		return "N-SET-RQ", "n-set-rq"
	case 0x8120:
		return "N-SET-RSP", "n-set-rsp"
	case 0x0130:
		return "N-ACTION-RQ", "n-action-rq"
	case 0x8130:
		return "N-ACTION-RSP", "n-action-rsp"
	case 0x0140:
		return "N-CREATE-RQ", "n-create-rq"
	case 0x8140:
		return "N-CREATE-RSP", "n-create-rsp"
	case 0x0150:
		return "N-DELETE-RQ", "n-delete-rq"
	case 0x8150:
		return "N-DELETE-RSP", "n-delete-rsp"
	}
	return "UNKNOWN", "dimse-unknown"
}

// activity is the role-relevant service of a composite command, as used in
// "dicom:<activity>" facts; "" for the others.
func activity(field uint16) string {
	switch field &^ rspBit {
	case cStoreRQ:
		return "c-store"
	case cFindRQ:
		return "c-find"
	case cGetRQ:
		return "c-get"
	case cMoveRQ:
		return "c-move"
	case cEchoRQ:
		return "c-echo"
	}
	return ""
}

// Status classes (PS3.7 C).
const (
	statusSuccess = "success"
	statusPending = "pending"
	statusWarning = "warning"
	statusFailure = "failure"
	statusCancel  = "cancel"
)

// statusClass classifies a DIMSE status code.
func statusClass(s uint16) string {
	switch {
	case s == 0x0000:
		return statusSuccess
	case s == 0xff00 || s == 0xff01:
		return statusPending
	case s == 0xfe00:
		return statusCancel
	case s == 0x0001 || s == 0x0107 || s == 0x0116 || s&0xf000 == 0xb000:
		return statusWarning
	}
	return statusFailure
}

// statusText puts the common status codes into words; others get their
// class.
func statusText(s uint16) string {
	switch s {
	case 0x0000:
		return "Success"
	case 0xff00:
		return "Pending"
	case 0xff01:
		return "Pending, optional keys not supported"
	case 0xfe00:
		return "Cancelled"
	case 0x0001:
		return "Warning: requested optional attributes not supported"
	case 0x0107:
		return "Warning: attribute list error"
	case 0x0116:
		return "Warning: attribute value out of range"
	case 0xb000:
		return "Warning: coercion of data elements, or sub-operations completed with failures"
	case 0xb006:
		return "Warning: elements discarded"
	case 0xb007:
		return "Warning: data set does not match SOP class"
	case 0x0110:
		return "Failure: processing failure"
	case 0x0122:
		return "Refused: SOP class not supported"
	case 0x0124:
		return "Refused: not authorized"
	case 0x0211:
		return "Failure: unrecognized operation"
	case 0x0213:
		return "Failure: resource limitation"
	case 0xa700:
		return "Refused: out of resources"
	case 0xa701:
		return "Refused: out of resources, unable to calculate number of matches"
	case 0xa702:
		return "Refused: out of resources, unable to perform sub-operations"
	case 0xa801:
		return "Refused: move destination unknown"
	case 0xa900:
		return "Error: data set does not match SOP class"
	case 0xc000:
		return "Failure: unable to process"
	}
	switch statusClass(s) {
	case statusWarning:
		return "Warning"
	case statusPending:
		return "Pending"
	}
	if s&0xf000 == 0xa000 {
		return "Refused"
	}
	return "Failure"
}

// priorityText names a DIMSE priority.
func priorityText(p uint16) string {
	switch p {
	case 0:
		return "medium"
	case 1:
		return "high"
	case 2:
		return "low"
	}
	return "unknown"
}
