package bus

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/event"
)

// TestGoldenEnvelope checks the documented envelope (testdata, its id
// computed with sha256sum) against the decoder and the encoder.
func TestGoldenEnvelope(t *testing.T) {
	b, err := os.ReadFile("testdata/envelope-flow.json")
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.TrimSpace(b)
	env, err := DecodeEnvelope("heir", "heir.icu3.flow", b)
	if err != nil {
		t.Fatal(err)
	}
	if env.ID != "9e3cfa02668170fbfb1b2c59a7f62fab" || env.Seq != 1842 || env.Sensor != "icu3" {
		t.Fatalf("decoded %+v", env)
	}
	rec, err := env.Decode()
	if err != nil {
		t.Fatal(err)
	}
	f := rec.(*event.Flow)
	if f.ID != "9c1f0e5b7a2d4c61" || f.Server.Port != 4242 || f.Counts[0].Bytes != 1502 {
		t.Fatalf("record %+v", f)
	}
	again := appendEnvelope(nil, env.ID, env.Sensor, env.Seq, env.Type, env.Time, env.Data)
	if !bytes.Equal(again, b) {
		t.Fatalf("re-encoded\n%s\nwant\n%s", again, b)
	}
}

// FuzzDecodeEnvelope: whatever arrives on a subject, the node's decoder
// returns an error or an envelope that is consistent with its subject and
// content id, and whose record re-encodes to an envelope that decodes the
// same.
func FuzzDecodeEnvelope(f *testing.F) {
	golden, _ := os.ReadFile("testdata/envelope-flow.json")
	f.Add("heir.icu3.flow", golden)
	f.Add("heir.icu4.flow", golden)
	data := []byte(`{"v":1,"type":"alert","counts":{"syn":3}}`)
	f.Add("heir.a.alert", appendEnvelope(nil, EventID("a", "alert", data), "a", 7, "alert", time.Unix(0, 0), data))
	f.Add("heir.a.alert", []byte(`{"v":1,"id":"x","sensor":"a","seq":1,"type":"alert","time":"2026-01-01T00:00:00Z","data":{}}`))
	f.Add("heir.a.stats", []byte(`{"v":1}{}`))
	f.Add("heir.a", []byte(`[]`))
	f.Fuzz(func(t *testing.T, subject string, b []byte) {
		env, err := DecodeEnvelope("heir", subject, b)
		if err != nil {
			return
		}
		if Subject("heir", env.Sensor, env.Type) != subject || EventID(env.Sensor, env.Type, env.Data) != env.ID {
			t.Fatalf("accepted an inconsistent envelope %+v on %s", env, subject)
		}
		again := appendEnvelope(nil, env.ID, env.Sensor, env.Seq, env.Type, env.Time, env.Data)
		env2, err := DecodeEnvelope("heir", subject, again)
		if err != nil {
			t.Fatalf("re-encoded envelope refused: %v\n%s", err, again)
		}
		if env2.ID != env.ID || env2.Seq != env.Seq || !bytes.Equal(env2.Data, env.Data) || !env2.Time.Equal(env.Time) {
			t.Fatalf("round trip changed the envelope: %+v vs %+v", env, env2)
		}
		_, _ = env.Decode() // must not panic
	})
}

// FuzzParseCredentials: a credentials file is parsed or refused, never
// half-accepted: accepted ones have a valid name and a usable user key.
func FuzzParseCredentials(f *testing.F) {
	reg := NewRegistry(f.TempDir() + "/sensors.json")
	c, err := reg.Add("icu3", time.Unix(0, 0))
	if err != nil {
		f.Fatal(err)
	}
	c.URLs = []string{"tls://node:4222"}
	good, _ := json.Marshal(c)
	f.Add(good)
	f.Add(bytes.Replace(good, []byte(`"icu3"`), []byte(`"ICU 3"`), 1))
	f.Add(bytes.Replace(good, []byte(`"seed":"S`), []byte(`"seed":"X`), 1))
	f.Add([]byte(`{"v":1,"type":"heir-sensor-credentials","sensor":"a","seed":"SUAM","ca":"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}`))
	f.Add([]byte(natsCredsMarker))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCredentials(b)
		if err != nil {
			return
		}
		if ValidSensorName(c.Sensor) != nil {
			t.Fatalf("accepted sensor name %q", c.Sensor)
		}
		if _, err := c.PublicKey(); err != nil {
			t.Fatalf("accepted credentials without a usable key: %v", err)
		}
	})
}
