package dicom

// Detail types, one per kind of observation; docs/proto/dicom.md documents
// every field. None of them holds a patient value: data sets are reduced to
// the tags of the identifying attributes they carried.

// Association is the detail of "associate-rq" and "associate-ac".
type Association struct {
	// CallingAE and CalledAE are the AE titles of the requestor and of the
	// acceptor it asked for (echoed by the acceptor in an AC).
	CallingAE string `json:"calling_ae"`
	CalledAE  string `json:"called_ae"`
	// ProtocolVersion is the upper-layer protocol version bit field (1).
	ProtocolVersion uint16 `json:"protocol_version"`
	// ApplicationContext is the application context name UID.
	ApplicationContext string `json:"application_context,omitempty"`
	// MaxPDULength is the largest P-DATA PDU the sender accepts (0: no limit).
	MaxPDULength uint32 `json:"max_pdu_length"`
	// ImplementationClassUID and ImplementationVersion identify the
	// sender's DICOM implementation (e.g. OFFIS_DCMTK_367).
	ImplementationClassUID string `json:"implementation_class_uid,omitempty"`
	ImplementationVersion  string `json:"implementation_version,omitempty"`
	// Contexts are the presentation contexts proposed (RQ) or answered (AC),
	// at most 128; ContextsDropped counts the ones beyond.
	Contexts        []PresentationContext `json:"presentation_contexts,omitempty"`
	ContextsDropped int                   `json:"presentation_contexts_dropped,omitempty"`
	// ContextsAccepted counts the contexts an AC accepted.
	ContextsAccepted int `json:"presentation_contexts_accepted,omitempty"`
	// RoleSelections and ExtendedNegotiations count those user-information
	// sub-items.
	RoleSelections       int `json:"role_selections,omitempty"`
	ExtendedNegotiations int `json:"extended_negotiations,omitempty"`
	// UserIdentityType is the user identity negotiation type of an RQ
	// (1 username, 2 username and passcode, 3 Kerberos, 4 SAML, 5 JWT);
	// UserIdentity its user name for types 1 and 2. A passcode is never
	// kept.
	UserIdentityType uint8  `json:"user_identity_type,omitempty"`
	UserIdentity     string `json:"user_identity,omitempty"`
	// Malformed says the PDU's items did not parse to the end.
	Malformed bool `json:"malformed,omitempty"`
}

// PresentationContext is one proposed or answered presentation context.
type PresentationContext struct {
	ID uint8 `json:"id"`
	// AbstractSyntax (RQ) is the SOP class UID; in an AC it is copied from
	// the matching RQ context when that was seen.
	AbstractSyntax     string `json:"abstract_syntax,omitempty"`
	AbstractSyntaxName string `json:"abstract_syntax_name,omitempty"`
	// TransferSyntaxes are the proposed transfer syntax UIDs (RQ, at most 16).
	TransferSyntaxes []string `json:"transfer_syntaxes,omitempty"`
	// Result (AC) is 0 acceptance, 1 user rejection, 2 no reason,
	// 3 abstract syntax not supported, 4 transfer syntaxes not supported;
	// ResultText says so in words.
	Result     *uint8 `json:"result,omitempty"`
	ResultText string `json:"result_text,omitempty"`
	// TransferSyntax (AC) is the accepted transfer syntax UID.
	TransferSyntax string `json:"transfer_syntax,omitempty"`
}

// Reject is the detail of "associate-rj".
type Reject struct {
	CallingAE  string `json:"calling_ae,omitempty"`
	CalledAE   string `json:"called_ae,omitempty"`
	Result     uint8  `json:"result"`
	ResultText string `json:"result_text"`
	Source     uint8  `json:"source"`
	SourceText string `json:"source_text"`
	Reason     uint8  `json:"reason"`
	ReasonText string `json:"reason_text"`
}

// Abort is the detail of "abort".
type Abort struct {
	Source     uint8  `json:"source"`
	SourceText string `json:"source_text"`
	Reason     uint8  `json:"reason"`
	ReasonText string `json:"reason_text"`
}

// Message is the detail of a DIMSE message ("c-store-rq", "c-find-rsp" …).
type Message struct {
	// Command is the command's name ("C-STORE-RQ"); CommandField its code.
	Command      string `json:"command"`
	CommandField uint16 `json:"command_field"`
	// MessageID (RQ) and RespondingTo (RSP) pair requests and responses.
	MessageID    *uint16 `json:"message_id,omitempty"`
	RespondingTo *uint16 `json:"message_id_responded_to,omitempty"`
	// SOPClass is the affected (or requested) SOP class UID; SOPClassName
	// its name when well known.
	SOPClass     string `json:"sop_class,omitempty"`
	SOPClassName string `json:"sop_class_name,omitempty"`
	// Status (RSP) is the status code as "0x0000"; StatusClass one of
	// success, pending, warning, failure, cancel; StatusText words.
	Status      string `json:"status,omitempty"`
	StatusClass string `json:"status_class,omitempty"`
	StatusText  string `json:"status_text,omitempty"`
	// Priority (RQ of C-STORE/FIND/GET/MOVE): low, medium or high.
	Priority string `json:"priority,omitempty"`
	// MoveDestination is the AE title a C-MOVE sends the instances to.
	MoveDestination string `json:"move_destination,omitempty"`
	// Sub-operation counts of C-GET and C-MOVE responses.
	Remaining *uint16 `json:"suboperations_remaining,omitempty"`
	Completed *uint16 `json:"suboperations_completed,omitempty"`
	Failed    *uint16 `json:"suboperations_failed,omitempty"`
	Warning   *uint16 `json:"suboperations_warning,omitempty"`
	// ContextID is the presentation context the command travelled on;
	// TransferSyntax the data set's transfer syntax UID when known.
	ContextID      uint8  `json:"context_id"`
	TransferSyntax string `json:"transfer_syntax,omitempty"`
	// DataSet says a data set followed the command.
	DataSet bool `json:"data_set"`
	// QueryLevel is the Query/Retrieve Level (0008,0052) of a query or
	// retrieve identifier: PATIENT, STUDY, SERIES or IMAGE.
	QueryLevel string `json:"query_level,omitempty"`
	// PatientAttributes lists the identifying attributes the data set
	// carried with a non-empty value: tag and keyword, never the value.
	PatientAttributes []Attribute `json:"patient_attributes,omitempty"`
	// Wildcards lists identifying attributes whose value was only a
	// universal match ("*", "?"), as in a bulk query.
	Wildcards []Attribute `json:"wildcards,omitempty"`
	// DataSetNote says why the data set could not be inspected in full
	// (deflated, gap, malformed, too deeply nested).
	DataSetNote string `json:"data_set_note,omitempty"`
	// SubOperation marks a C-STORE the association's acceptor sent back to
	// the requestor: a C-GET retrieval delivering instances to the client.
	SubOperation bool `json:"sub_operation,omitempty"`
}

// Attribute names a data element by tag and keyword.
type Attribute struct {
	Tag     string `json:"tag"`
	Keyword string `json:"keyword"`
}

// Summary is the detail of "association-summary", emitted when the flow
// ends.
type Summary struct {
	CallingAE string `json:"calling_ae,omitempty"`
	CalledAE  string `json:"called_ae,omitempty"`
	// Associations counts A-ASSOCIATE-RQs; Accepted, Rejected, Released and
	// Aborted their outcomes.
	Associations int  `json:"associations"`
	Accepted     int  `json:"accepted"`
	Rejected     int  `json:"rejected"`
	Released     bool `json:"released,omitempty"`
	Aborted      bool `json:"aborted,omitempty"`
	// Commands counts DIMSE messages by kind ("c-store-rq": 13).
	Commands map[string]int `json:"commands,omitempty"`
	// Failures counts responses with a failure status.
	Failures int `json:"failures,omitempty"`
	// PHIMessages counts messages whose data set carried patient
	// attributes.
	PHIMessages int `json:"phi_messages,omitempty"`
	// Bytes and PDUs per direction.
	BytesToServer uint64 `json:"bytes_to_server"`
	BytesToClient uint64 `json:"bytes_to_client"`
	PDUsToServer  int    `json:"pdus_to_server"`
	PDUsToClient  int    `json:"pdus_to_client"`
	// OversizedPDUs counts control PDUs over 64 KiB skipped unread;
	// OversizedCommands command sets over 64 KiB dropped.
	OversizedPDUs     int `json:"oversized_pdus,omitempty"`
	OversizedCommands int `json:"oversized_commands,omitempty"`
	// Malformed counts framing errors, Gaps capture holes.
	Malformed int `json:"malformed,omitempty"`
	Gaps      int `json:"gaps,omitempty"`
	// MidStream says the flow was picked up after its A-ASSOCIATE-RQ.
	MidStream bool `json:"mid_stream,omitempty"`
}
