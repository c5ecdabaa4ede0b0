package mqtt

// Packet builders following the MQTT 3.1.1 and 5.0 specifications, for
// tests.

func varint(n int) []byte {
	var b []byte
	for {
		c := byte(n & 0x7f)
		n >>= 7
		if n > 0 {
			b = append(b, c|0x80)
			continue
		}
		return append(b, c)
	}
}

func u16(n int) []byte { return []byte{byte(n >> 8), byte(n)} }

func str(s string) []byte { return append(u16(len(s)), s...) }

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// pkt is a packet with fixed header byte first and the body parts.
func pkt(first byte, parts ...[]byte) []byte {
	body := cat(parts...)
	return cat([]byte{first}, varint(len(body)), body)
}

// props is an MQTT 5 property list.
func props(p ...byte) []byte { return cat(varint(len(p)), p) }

const (
	flagUser  = 0x80
	flagPass  = 0x40
	flagWill  = 0x04
	flagClean = 0x02
)

func connect311(flags byte, keepAlive int, cid string, rest ...[]byte) []byte {
	return pkt(0x10, str("MQTT"), []byte{4, flags}, u16(keepAlive), str(cid), cat(rest...))
}

func connack(code byte) []byte { return pkt(0x20, []byte{0, code}) }

func publish(flags byte, topic string, pid int, payload string) []byte {
	var id []byte
	if flags&0x06 != 0 {
		id = u16(pid)
	}
	return pkt(0x30|flags, str(topic), id, []byte(payload))
}

func subscribe(pid int, filter string, qos byte) []byte {
	return pkt(0x82, u16(pid), str(filter), []byte{qos})
}

var (
	pingreq    = []byte{0xc0, 0}
	pingresp   = []byte{0xd0, 0}
	disconnect = []byte{0xe0, 0}
)
