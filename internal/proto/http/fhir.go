package httpproto

import (
	"bytes"
	_ "embed"
	"strings"
)

// fhirR4Resources is the official list of FHIR R4 (4.0.1) resource types,
// one per line (hl7.org/fhir/R4/resourcelist.html, 146 concrete types).
//
//go:embed fhir_r4_resources.txt
var fhirR4Resources string

// resourceTypes maps each R4 resource type to itself, so that a lookup
// with a byte slice returns a shared string without allocating. Built
// once, never written after.
var resourceTypes = func() map[string]string {
	m := make(map[string]string, 160)
	for _, t := range strings.Fields(fhirR4Resources) {
		m[t] = t
	}
	return m
}()

// resourceType returns the canonical name of an R4 resource type, or "".
// FHIR type names are case-sensitive: "patient" is not a type.
func resourceType(b []byte) string { return resourceTypes[string(b)] }

// phiTypes are the resource types whose presence in a message means
// patient data travelled: the resources of the FHIR R4 Patient compartment
// that identify a person or record their care, coverage or billing.
// Left out on purpose: compartment members that only point at a patient
// (AuditEvent, Provenance, Group, List, Schedule, Basic, MeasureReport,
// RequestGroup) and staff or directory resources (Practitioner,
// PractitionerRole, Organization, Location), whose names are personal
// data of employees but not patient data; flagging every directory sync
// would bury the findings that matter.
var phiTypes = map[string]bool{
	"Patient": true, "RelatedPerson": true, "Person": true,
	"Account": true, "AdverseEvent": true, "AllergyIntolerance": true,
	"Appointment": true, "AppointmentResponse": true, "BodyStructure": true,
	"CarePlan": true, "CareTeam": true, "ChargeItem": true, "Claim": true,
	"ClaimResponse": true, "ClinicalImpression": true, "Communication": true,
	"CommunicationRequest": true, "Composition": true, "Condition": true,
	"Consent": true, "Coverage": true, "CoverageEligibilityRequest": true,
	"CoverageEligibilityResponse": true, "DetectedIssue": true,
	"DeviceRequest": true, "DeviceUseStatement": true, "DiagnosticReport": true,
	"DocumentManifest": true, "DocumentReference": true, "Encounter": true,
	"EnrollmentRequest": true, "EpisodeOfCare": true,
	"ExplanationOfBenefit": true, "FamilyMemberHistory": true, "Flag": true,
	"Goal": true, "ImagingStudy": true, "Immunization": true,
	"ImmunizationEvaluation": true, "ImmunizationRecommendation": true,
	"Invoice": true, "Media": true, "MedicationAdministration": true,
	"MedicationDispense": true, "MedicationRequest": true,
	"MedicationStatement": true, "MolecularSequence": true,
	"NutritionOrder": true, "Observation": true, "Procedure": true,
	"QuestionnaireResponse": true, "ResearchSubject": true,
	"RiskAssessment": true, "ServiceRequest": true, "Specimen": true,
	"SupplyDelivery": true, "SupplyRequest": true, "VisionPrescription": true,
}

// ambiguousTypes are resource type names that are also ordinary words a
// web application may use as a path segment ("/Account/Login",
// "/Media/logo.png"). A path through them counts as FHIR only with other
// evidence: a FHIR media type, a FHIR-looking base, a FHIR keyword.
var ambiguousTypes = map[string]bool{
	"Account": true, "Basic": true, "Binary": true, "Bundle": true,
	"Claim": true, "Communication": true, "Composition": true,
	"Consent": true, "Contract": true, "Coverage": true, "Device": true,
	"Endpoint": true, "Evidence": true, "Flag": true, "Goal": true,
	"Group": true, "Invoice": true, "Library": true, "Linkage": true,
	"List": true, "Location": true, "Measure": true, "Media": true,
	"Organization": true, "Parameters": true, "Person": true,
	"Questionnaire": true, "Schedule": true, "Slot": true,
	"Subscription": true, "Substance": true, "Task": true,
}

// FHIR REST interactions, as reported in FHIR.Operation.
const (
	opRead         = "read"
	opVread        = "vread"
	opSearch       = "search"
	opCreate       = "create"
	opUpdate       = "update"
	opPatch        = "patch"
	opDelete       = "delete"
	opHistory      = "history"
	opCapabilities = "capabilities"
	opTransaction  = "transaction"
	opBatch        = "batch"
	opOperation    = "operation"
)

// fhirPath is what the shape of a request path says about FHIR.
type fhirPath struct {
	ok       bool   // the path has a FHIR REST shape
	strong   bool   // … and enough evidence to call it FHIR by itself
	resource string // resource type, "" for system-level interactions
	op       string
	opName   []byte // "$everything" for operations
	// idSeg and vidSeg index the segments holding a logical id and a
	// version id (-1 when absent); they are redacted in the reported path.
	idSeg, vidSeg int
	baseOnly      bool // every segment looks like a FHIR base ("/fhir/r4")
}

// segments splits a raw path into at most maxSegments non-empty segments.
// n is -1 when there are more.
func segments(path []byte, segs *[maxSegments][]byte) int {
	n := 0
	for len(path) > 0 {
		var s []byte
		if i := bytes.IndexByte(path, '/'); i >= 0 {
			s, path = path[:i], path[i+1:]
		} else {
			s, path = path, nil
		}
		if len(s) == 0 {
			continue
		}
		if n == maxSegments {
			return -1
		}
		segs[n] = s
		n++
	}
	return n
}

// classifyFHIR reads the FHIR REST interaction off a request's method and
// path ([base]/Type[/id[/_history/vid]], [base]/Type/$op,
// [base]/Type/id/$op, [base]/Type/id/Type2, [base]/metadata, [base]/$op,
// [base]/_history, POST [base]).
func classifyFHIR(method string, segs [][]byte, fhirParams bool) fhirPath {
	p := fhirPath{idSeg: -1, vidSeg: -1}
	ti := -1
	for i, s := range segs {
		if t := resourceType(s); t != "" {
			ti = i
			p.resource = t
			break
		}
	}
	if ti < 0 {
		return classifySystem(method, segs, p)
	}
	base := segs[:ti]
	rest := segs[ti+1:]
	keyword := false
	switch len(rest) {
	case 0:
		switch method {
		case "GET", "HEAD":
			p.op = opSearch
		case "POST":
			p.op = opCreate
		case "PUT":
			p.op = opUpdate // conditional update
		case "PATCH":
			p.op = opPatch
		case "DELETE":
			p.op = opDelete
		}
	case 1:
		r := rest[0]
		switch {
		case string(r) == "_search" && (method == "POST" || method == "GET"):
			p.op, keyword = opSearch, true
		case string(r) == "_history" && method == "GET":
			p.op, keyword = opHistory, true
		case isOpName(r):
			p.op, p.opName, keyword = opOperation, r, true
		case isFHIRID(r):
			p.idSeg = ti + 1
			switch method {
			case "GET", "HEAD":
				p.op = opRead
			case "PUT":
				p.op = opUpdate
			case "PATCH":
				p.op = opPatch
			case "DELETE":
				p.op = opDelete
			}
		}
	case 2, 3:
		if !isFHIRID(rest[0]) {
			break
		}
		p.idSeg = ti + 1
		r := rest[1]
		switch {
		case string(r) == "_history" && method == "GET":
			keyword = true
			if len(rest) == 2 {
				p.op = opHistory
			} else if isFHIRID(rest[2]) {
				p.op, p.vidSeg = opVread, ti+3
			}
		case len(rest) == 2 && isOpName(r):
			p.op, p.opName, keyword = opOperation, r, true
		case len(rest) == 2 && (resourceType(r) != "" || string(r) == "*") && (method == "GET" || method == "HEAD"):
			// compartment search: Patient/123/Observation
			p.op = opSearch
		}
	}
	if p.op == "" {
		return fhirPath{idSeg: -1, vidSeg: -1}
	}
	p.ok = true
	p.strong = keyword || fhirParams || fhirBase(base) || !ambiguousTypes[p.resource]
	return p
}

// classifySystem handles paths without a resource type: system-level
// interactions on the base.
func classifySystem(method string, segs [][]byte, p fhirPath) fhirPath {
	p.baseOnly = fhirBase(segs)
	if len(segs) == 0 {
		return p
	}
	last := segs[len(segs)-1]
	base := segs[:len(segs)-1]
	switch {
	case string(last) == "metadata" && (method == "GET" || method == "HEAD"):
		p.op = opCapabilities
	case string(last) == "_history" && method == "GET":
		p.op = opHistory
	case string(last) == "_search" && (method == "GET" || method == "POST"):
		p.op = opSearch
	case isOpName(last):
		p.op, p.opName = opOperation, last
	case p.baseOnly && method == "POST":
		p.op = opTransaction
		base = segs
	}
	if p.op == "" {
		return p
	}
	p.ok = true
	// These shapes are common words on other web servers ("/metadata",
	// "/$x" less so); only a FHIR-looking base makes them FHIR alone.
	p.strong = fhirBase(base)
	return p
}

// fhirBase says whether base segments name a FHIR endpoint: one contains
// "fhir" (/fhir, /hapi-fhir/fhir, /fhir-server/api/v4) or is a FHIR
// version marker (/baseR4, /R4, /stu3).
func fhirBase(base [][]byte) bool {
	for _, s := range base {
		if containsFold(s, "fhir") {
			return true
		}
		for _, v := range []string{"baseR4", "baseR4B", "baseR5", "baseDstu3", "baseDstu2", "R4", "R4B", "R5", "STU3", "DSTU2"} {
			if bytes.EqualFold(s, []byte(v)) {
				return true
			}
		}
	}
	return false
}

// isFHIRID checks the FHIR id datatype: [A-Za-z0-9\-\.]{1,64}.
func isFHIRID(b []byte) bool {
	if len(b) == 0 || len(b) > 64 {
		return false
	}
	for _, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c) || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// isOpName checks "$name" with a code-like name.
func isOpName(b []byte) bool {
	if len(b) < 2 || len(b) > 64 || b[0] != '$' {
		return false
	}
	for _, c := range b[1:] {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c) || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// fhirMedia says whether a Content-Type or Accept value names a FHIR
// media type (application/fhir+json, application/fhir+xml, and the DSTU2
// forms application/json+fhir, application/xml+fhir).
func fhirMedia(v []byte) bool {
	if !containsFold(v, "fhir") {
		return false
	}
	return containsFold(v, "fhir+json") || containsFold(v, "fhir+xml") ||
		containsFold(v, "json+fhir") || containsFold(v, "xml+fhir") ||
		containsFold(v, "fhir+turtle") || containsFold(v, "fhir+ndjson")
}

// fhirSearchParams are the FHIR result and common search parameters;
// one of them in a query is evidence of FHIR.
var fhirSearchParams = map[string]bool{
	"_id": true, "_lastUpdated": true, "_tag": true, "_profile": true,
	"_security": true, "_text": true, "_content": true, "_list": true,
	"_has": true, "_type": true, "_sort": true, "_count": true,
	"_include": true, "_revinclude": true, "_summary": true, "_total": true,
	"_elements": true, "_contained": true, "_containedType": true,
	"_format": true, "_pretty": true, "_since": true, "_at": true,
	"_query": true, "_filter": true,
}

// isFHIRParam says whether a query parameter name is a FHIR one, ignoring
// modifiers ("_include:iterate", "_has:Observation:patient:code").
func isFHIRParam(name []byte) bool {
	if i := bytes.IndexByte(name, ':'); i >= 0 {
		name = name[:i]
	}
	return fhirSearchParams[string(name)]
}

// identifyingParams are search parameters whose values identify a person
// (names, birth date, identifiers, contact details): searching a
// patient-data resource by them puts PHI in the URL.
var identifyingParams = map[string]bool{
	"name": true, "family": true, "given": true, "phonetic": true,
	"birthdate": true, "identifier": true, "phone": true, "email": true,
	"telecom": true, "address": true, "address-city": true,
	"address-postalcode": true, "address-state": true,
	"address-country": true,
}

// identifyingParam reports whether a parameter name (possibly chained,
// "subject:Patient.name", or with a modifier, "family:exact") searches
// by an identifying value.
func identifyingParam(name string) bool {
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		name = name[i+1:]
	}
	if i := strings.IndexByte(name, ':'); i >= 0 {
		name = name[:i]
	}
	return identifyingParams[name]
}

// containsFold is a case-insensitive bytes.Contains for an ASCII needle
// in lower case, without allocating.
func containsFold(b []byte, lower string) bool {
	n := len(lower)
	if n == 0 {
		return true
	}
	first, upper := lower[0], lower[0]
	if first >= 'a' && first <= 'z' {
		upper = first - ('a' - 'A')
	}
	for i := 0; i+n <= len(b); i++ {
		if c := b[i]; c != first && c != upper {
			continue
		}
		match := true
		for j := 1; j < n; j++ {
			c := b[i+j]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != lower[j] {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}
