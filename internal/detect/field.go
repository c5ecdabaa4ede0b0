package detect

import (
	"fmt"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/proto"
	"github.com/heir-emd/heir/internal/sensor"
)

// Event types rules can look at (`on:` in a rule).
const (
	OnObservation = "observation"
	OnWeakness    = "weakness"
	OnFlow        = "flow"
	OnFlowStart   = "flow-start"
	OnARP         = "arp"
)

// vkind is the type of a field value.
type vkind uint8

const (
	vNone vkind = iota // absent
	vStr
	vNum
	vBool
	vAddr
	vList
)

// value is one field's value in an event. Lists come from detail fields
// that are arrays (or paths through arrays) and from repeated facts and
// weaknesses; a condition holds for a list when it holds for an element.
type value struct {
	k vkind
	s string
	n float64
	b bool
	a netip.Addr
	l []value
}

func (v value) present() bool { return v.k != vNone && !(v.k == vList && len(v.l) == 0) }

// text renders a value for group keys and samples.
func (v value) text() string {
	switch v.k {
	case vStr:
		return v.s
	case vNum:
		return strconv.FormatFloat(v.n, 'f', -1, 64)
	case vBool:
		return strconv.FormatBool(v.b)
	case vAddr:
		return v.a.String()
	case vList:
		parts := make([]string, len(v.l))
		for i, x := range v.l {
			parts[i] = x.text()
		}
		return strings.Join(parts, ",")
	}
	return ""
}

// appendText appends the text of v to b without allocating for scalars.
func (v value) appendText(b []byte) []byte {
	switch v.k {
	case vStr:
		return append(b, v.s...)
	case vNum:
		return strconv.AppendFloat(b, v.n, 'f', -1, 64)
	case vBool:
		return strconv.AppendBool(b, v.b)
	case vAddr:
		return v.a.AppendTo(b)
	case vList:
		return append(b, v.text()...)
	}
	return b
}

// evctx is the event a rule is looking at. Exactly one of obs, flow,
// conn, arp is set; weak is set for weakness events (with obs).
type evctx struct {
	on   string
	t    time.Time
	obs  *event.Observation
	weak *event.Weakness
	flow *event.Flow
	conn *proto.Conn
	arp  *sensor.ARP
	rc   *reflectCache
}

// getter reads one field of an event.
type getter func(c *evctx) value

// fieldDoc lists the fields of each event type, for validation and the
// error messages that help users write rules. "detail." and "fact." paths
// are open-ended.
func fieldNames(on string) []string {
	ep := func(p string) []string { return []string{p + ".ip", p + ".port", p + ".mac"} }
	switch on {
	case OnObservation, OnWeakness:
		out := []string{"proto", "kind", "transport", "dir", "flow", "frame", "vlan"}
		out = append(append(out, ep("src")...), ep("dst")...)
		out = append(out, "weakness.kind", "weakness.about", "weakness.detail", "detail.…", "fact.…")
		return out
	case OnFlow:
		out := []string{"id", "transport", "proto", "reason", "vlan", "parent", "packets", "bytes", "payload_bytes", "duration",
			"client_tcp_flags", "server_tcp_flags", "icmp_type", "gaps", "truncated", "continuing"}
		out = append(append(out, ep("client")...), ep("server")...)
		return append(out, "client.packets", "client.bytes", "client.payload_bytes", "server.packets", "server.bytes", "server.payload_bytes")
	case OnFlowStart:
		out := []string{"id", "transport", "vlan"}
		return append(append(out, ep("client")...), ep("server")...)
	case OnARP:
		return []string{"op", "sender.ip", "sender.mac", "target.ip", "target.mac", "vlan", "gratuitous"}
	}
	return nil
}

func str(s string) value {
	if s == "" {
		return value{}
	}
	return value{k: vStr, s: s}
}
func num(n float64) value { return value{k: vNum, n: n} }
func addr(a netip.Addr) value {
	if !a.IsValid() {
		return value{}
	}
	return value{k: vAddr, a: a}
}
func boolean(b bool) value { return value{k: vBool, b: b} }

func macText(m [6]byte) string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5])
}

// endpointGetter reads ip, port or mac of the endpoint pick chooses.
func endpointGetter(part string, pick func(c *evctx) *event.Endpoint) getter {
	switch part {
	case "ip":
		return func(c *evctx) value {
			if e := pick(c); e != nil {
				return addr(e.IP)
			}
			return value{}
		}
	case "port":
		return func(c *evctx) value {
			if e := pick(c); e != nil && e.Port != 0 {
				return num(float64(e.Port))
			}
			return value{}
		}
	case "mac":
		return func(c *evctx) value {
			if e := pick(c); e != nil {
				return str(e.MAC)
			}
			return value{}
		}
	}
	return nil
}

// endpointOf returns the event's endpoint named name (src, dst, client,
// server; sender and target for ARP are handled apart).
func endpointOf(on, name string) func(c *evctx) *event.Endpoint {
	switch on {
	case OnObservation, OnWeakness:
		switch name {
		case "src":
			return func(c *evctx) *event.Endpoint { return &c.obs.Src }
		case "dst":
			return func(c *evctx) *event.Endpoint { return &c.obs.Dst }
		}
	case OnFlow:
		switch name {
		case "client":
			return func(c *evctx) *event.Endpoint { return &c.flow.Client }
		case "server":
			return func(c *evctx) *event.Endpoint { return &c.flow.Server }
		}
	case OnFlowStart:
		switch name {
		case "client":
			return func(c *evctx) *event.Endpoint { return &c.conn.Client }
		case "server":
			return func(c *evctx) *event.Endpoint { return &c.conn.Server }
		}
	}
	return nil
}

// compileField returns the getter for path on events of type on, or an
// error that lists what exists.
func compileField(on, path string) (getter, error) {
	unknown := func() error {
		return fmt.Errorf("unknown field %q for %s events (fields: %s)", path, on, strings.Join(fieldNames(on), ", "))
	}
	if path == "" {
		return nil, unknown()
	}
	head, rest, _ := strings.Cut(path, ".")
	switch on {
	case OnObservation, OnWeakness:
		switch head {
		case "proto":
			return func(c *evctx) value { return str(c.obs.Proto) }, noRest(rest, unknown)
		case "kind":
			return func(c *evctx) value { return str(c.obs.Kind) }, noRest(rest, unknown)
		case "transport":
			return func(c *evctx) value { return str(c.obs.Transport) }, noRest(rest, unknown)
		case "dir":
			return func(c *evctx) value { return str(string(c.obs.Dir)) }, noRest(rest, unknown)
		case "flow":
			return func(c *evctx) value { return str(c.obs.Flow) }, noRest(rest, unknown)
		case "frame":
			return func(c *evctx) value { return num(float64(c.obs.Frame)) }, noRest(rest, unknown)
		case "vlan":
			return func(c *evctx) value {
				if c.obs.VLAN == 0 {
					return value{}
				}
				return num(float64(c.obs.VLAN))
			}, noRest(rest, unknown)
		case "src", "dst":
			if g := endpointGetter(rest, endpointOf(on, head)); g != nil {
				return g, nil
			}
			return nil, unknown()
		case "detail":
			if rest == "" {
				return nil, fmt.Errorf("field %q needs a detail field name after it (detail.status, detail.user …; see docs/proto/<proto>.md)", path)
			}
			segs := strings.Split(rest, ".")
			for _, s := range segs {
				if s == "" {
					return nil, fmt.Errorf("field %q has an empty part", path)
				}
			}
			return func(c *evctx) value { return c.rc.get(c.obs.Detail, segs) }, nil
		case "fact":
			if rest == "" || strings.Contains(rest, ".") {
				return nil, fmt.Errorf("field %q must name one fact attribute (fact.software, fact.role …)", path)
			}
			attr := event.Attr(rest)
			return func(c *evctx) value {
				var l []value
				for _, f := range c.obs.Facts {
					if f.Attr == attr {
						l = append(l, str(f.Value))
					}
				}
				if len(l) == 0 {
					return value{}
				}
				return value{k: vList, l: l}
			}, nil
		case "weakness":
			var pick func(w *event.Weakness) value
			switch rest {
			case "kind":
				pick = func(w *event.Weakness) value { return str(string(w.Kind)) }
			case "about":
				pick = func(w *event.Weakness) value { return str(string(w.About)) }
			case "detail":
				pick = func(w *event.Weakness) value { return str(w.Detail) }
			default:
				return nil, unknown()
			}
			return func(c *evctx) value {
				if c.weak != nil {
					return pick(c.weak)
				}
				if len(c.obs.Weaknesses) == 0 {
					return value{}
				}
				l := make([]value, len(c.obs.Weaknesses))
				for i := range c.obs.Weaknesses {
					l[i] = pick(&c.obs.Weaknesses[i])
				}
				return value{k: vList, l: l}
			}, nil
		}
	case OnFlow:
		f := func(fn func(f *event.Flow) value) (getter, error) {
			return func(c *evctx) value { return fn(c.flow) }, noRest(rest, unknown)
		}
		switch head {
		case "id":
			return f(func(f *event.Flow) value { return str(f.ID) })
		case "transport":
			return f(func(f *event.Flow) value { return str(f.Transport) })
		case "proto":
			return f(func(f *event.Flow) value { return str(f.Proto) })
		case "reason":
			return f(func(f *event.Flow) value { return str(f.Reason) })
		case "parent":
			return f(func(f *event.Flow) value { return str(f.Parent) })
		case "vlan":
			return f(func(f *event.Flow) value {
				if f.VLAN == 0 {
					return value{}
				}
				return num(float64(f.VLAN))
			})
		case "packets":
			return f(func(f *event.Flow) value { return num(float64(f.Counts[0].Packets + f.Counts[1].Packets)) })
		case "bytes":
			return f(func(f *event.Flow) value { return num(float64(f.Counts[0].Bytes + f.Counts[1].Bytes)) })
		case "payload_bytes":
			return f(func(f *event.Flow) value {
				return num(float64(f.Counts[0].PayloadBytes + f.Counts[1].PayloadBytes))
			})
		case "duration":
			return f(func(f *event.Flow) value { return num(f.End.Sub(f.Start).Seconds()) })
		case "client_tcp_flags":
			return f(func(f *event.Flow) value { return str(f.ClientTCP) })
		case "server_tcp_flags":
			return f(func(f *event.Flow) value { return str(f.ServerTCP) })
		case "icmp_type":
			return f(func(f *event.Flow) value {
				if f.ICMPType == nil {
					return value{}
				}
				return num(float64(*f.ICMPType))
			})
		case "gaps":
			return f(func(f *event.Flow) value { return num(float64(f.Gaps)) })
		case "truncated":
			return f(func(f *event.Flow) value { return boolean(f.Truncated) })
		case "continuing":
			return f(func(f *event.Flow) value { return boolean(f.Continuing) })
		case "client", "server":
			side := 0
			if head == "server" {
				side = 1
			}
			switch rest {
			case "packets":
				return func(c *evctx) value { return num(float64(c.flow.Counts[side].Packets)) }, nil
			case "bytes":
				return func(c *evctx) value { return num(float64(c.flow.Counts[side].Bytes)) }, nil
			case "payload_bytes":
				return func(c *evctx) value { return num(float64(c.flow.Counts[side].PayloadBytes)) }, nil
			}
			if g := endpointGetter(rest, endpointOf(on, head)); g != nil {
				return g, nil
			}
		}
	case OnFlowStart:
		switch head {
		case "id":
			return func(c *evctx) value { return str(c.conn.ID) }, noRest(rest, unknown)
		case "transport":
			return func(c *evctx) value { return str(c.conn.Transport.String()) }, noRest(rest, unknown)
		case "vlan":
			return func(c *evctx) value {
				if c.conn.VLAN == 0 {
					return value{}
				}
				return num(float64(c.conn.VLAN))
			}, noRest(rest, unknown)
		case "client", "server":
			if g := endpointGetter(rest, endpointOf(on, head)); g != nil {
				return g, nil
			}
		}
	case OnARP:
		switch path {
		case "op":
			return func(c *evctx) value {
				switch c.arp.Op {
				case 1:
					return str("request")
				case 2:
					return str("reply")
				}
				return num(float64(c.arp.Op))
			}, nil
		case "sender.ip":
			return func(c *evctx) value { return addr(c.arp.SenderIP) }, nil
		case "target.ip":
			return func(c *evctx) value { return addr(c.arp.TargetIP) }, nil
		case "sender.mac":
			return func(c *evctx) value { return str(macText(c.arp.SenderMAC)) }, nil
		case "target.mac":
			return func(c *evctx) value { return str(macText(c.arp.TargetMAC)) }, nil
		case "vlan":
			return func(c *evctx) value {
				if c.arp.VLAN == 0 {
					return value{}
				}
				return num(float64(c.arp.VLAN))
			}, nil
		case "gratuitous":
			return func(c *evctx) value { return boolean(c.arp.SenderIP.IsValid() && c.arp.SenderIP == c.arp.TargetIP) }, nil
		}
	}
	return nil, unknown()
}

func noRest(rest string, unknown func() error) error {
	if rest != "" {
		return unknown()
	}
	return nil
}

// --- detail fields by reflection ---

// reflectCache maps a detail struct type's JSON field names to field
// indexes. Details are typed structs of the dissector packages; rules name
// their fields as the wire format (docs/proto/*.md) does.
type reflectCache struct {
	types map[reflect.Type]map[string][]int
}

func newReflectCache() *reflectCache {
	return &reflectCache{types: map[reflect.Type]map[string][]int{}}
}

func (rc *reflectCache) fields(t reflect.Type) map[string][]int {
	if m, ok := rc.types[t]; ok {
		return m
	}
	m := map[string][]int{}
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() || f.Anonymous {
			continue
		}
		name := f.Name
		if tag, ok := f.Tag.Lookup("json"); ok {
			n, _, _ := strings.Cut(tag, ",")
			if n == "-" {
				continue
			}
			if n != "" {
				name = n
			}
		}
		m[name] = f.Index
	}
	rc.types[t] = m
	return m
}

// maxListValues bounds the values gathered from arrays in one detail.
const maxListValues = 256

// get follows segs through v.
func (rc *reflectCache) get(v any, segs []string) value {
	if v == nil {
		return value{}
	}
	if x, ok := rc.scalar(reflect.ValueOf(v), segs); ok {
		return x
	}
	var out []value
	rc.walk(reflect.ValueOf(v), segs, &out, 0)
	switch len(out) {
	case 0:
		return value{}
	case 1:
		if out[0].k != vList {
			return out[0]
		}
	}
	return value{k: vList, l: out}
}

// scalar follows segs through structs, maps and pointers to a scalar,
// without allocating; ok is false when the path meets a list (or a
// non-scalar end), which walk handles.
func (rc *reflectCache) scalar(v reflect.Value, segs []string) (value, bool) {
	for i := 0; ; i++ {
		for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
			if v.IsNil() {
				return value{}, true
			}
			v = v.Elem()
		}
		if i == len(segs) {
			switch v.Kind() {
			case reflect.String:
				return str(v.String()), true
			case reflect.Bool:
				return boolean(v.Bool()), true
			case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
				return num(float64(v.Int())), true
			case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
				return num(float64(v.Uint())), true
			case reflect.Float32, reflect.Float64:
				return num(v.Float()), true
			}
			return value{}, false
		}
		switch v.Kind() {
		case reflect.Struct:
			idx, ok := rc.fields(v.Type())[segs[i]]
			if !ok {
				return value{}, true
			}
			f, err := v.FieldByIndexErr(idx)
			if err != nil {
				return value{}, true
			}
			v = f
		case reflect.Map:
			if v.Type().Key().Kind() != reflect.String {
				return value{}, true
			}
			e := v.MapIndex(reflect.ValueOf(segs[i]).Convert(v.Type().Key()))
			if !e.IsValid() {
				return value{}, true
			}
			v = e
		case reflect.Slice, reflect.Array:
			return value{}, false
		default:
			return value{}, true
		}
	}
}

func (rc *reflectCache) walk(v reflect.Value, segs []string, out *[]value, depth int) {
	if depth > 16 || len(*out) >= maxListValues {
		return
	}
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	if len(segs) == 0 {
		if x, ok := leaf(v, rc, out, depth); ok {
			*out = append(*out, x)
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		idx, ok := rc.fields(v.Type())[segs[0]]
		if !ok {
			return
		}
		f, err := v.FieldByIndexErr(idx)
		if err != nil {
			return
		}
		rc.walk(f, segs[1:], out, depth+1)
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			return
		}
		e := v.MapIndex(reflect.ValueOf(segs[0]).Convert(v.Type().Key()))
		if e.IsValid() {
			rc.walk(e, segs[1:], out, depth+1)
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len() && len(*out) < maxListValues; i++ {
			rc.walk(v.Index(i), segs, out, depth+1)
		}
	}
}

// leaf turns a final value into a field value; arrays of scalars become
// several values.
func leaf(v reflect.Value, rc *reflectCache, out *[]value, depth int) (value, bool) {
	if v.Type() == reflect.TypeOf(time.Time{}) {
		return str(v.Interface().(time.Time).UTC().Format(time.RFC3339Nano)), true
	}
	if v.Type() == reflect.TypeOf(netip.Addr{}) {
		return addr(v.Interface().(netip.Addr)), true
	}
	switch v.Kind() {
	case reflect.String:
		return str(v.String()), true
	case reflect.Bool:
		return boolean(v.Bool()), true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return num(float64(v.Int())), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return num(float64(v.Uint())), true
	case reflect.Float32, reflect.Float64:
		return num(v.Float()), true
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len() && len(*out) < maxListValues; i++ {
			rc.walk(v.Index(i), nil, out, depth+1)
		}
	}
	return value{}, false
}
