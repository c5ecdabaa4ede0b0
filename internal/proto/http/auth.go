package httpproto

import (
	"bytes"
	"encoding/base64"
)

// Authentication scheme names as reported in Detail (lower case).
const (
	schemeBasic     = "basic"
	schemeDigest    = "digest"
	schemeBearer    = "bearer"
	schemeNTLM      = "ntlm"
	schemeNegotiate = "negotiate"
	schemeOther     = "other"
)

// authScheme returns the canonical name of the scheme that starts an
// Authorization value or a challenge, and the rest of the value.
func authScheme(v []byte) (string, []byte) {
	v = trimOWS(v)
	end := bytes.IndexAny(v, " \t,")
	name, rest := v, []byte(nil)
	if end >= 0 {
		name, rest = v[:end], v[end:]
	}
	rest = trimOWS(rest)
	switch {
	case len(name) == 0:
		return "", nil
	case bytes.EqualFold(name, []byte("basic")):
		return schemeBasic, rest
	case bytes.EqualFold(name, []byte("digest")):
		return schemeDigest, rest
	case bytes.EqualFold(name, []byte("bearer")):
		return schemeBearer, rest
	case bytes.EqualFold(name, []byte("ntlm")):
		return schemeNTLM, rest
	case bytes.EqualFold(name, []byte("negotiate")):
		return schemeNegotiate, rest
	}
	return schemeOther, rest
}

// maxBasic bounds the base64 credentials decoded; longer ones are not
// real logins (and the user name would be unusable anyway).
const maxBasic = 256

// basicBuf holds a decoded Basic credential for the duration of one check.
type basicBuf [maxBasic / 4 * 3]byte

// decodeBasic decodes Basic credentials into buf and splits them at the
// first colon. ok is false when they are not valid base64 or have no
// colon. The caller wipes buf once done with the password.
func decodeBasic(cred []byte, buf *basicBuf) (user, password []byte, n int, ok bool) {
	cred = bytes.TrimSpace(cred)
	if len(cred) == 0 || len(cred) > maxBasic {
		return nil, nil, 0, false
	}
	enc := base64.StdEncoding
	if len(cred)%4 != 0 {
		// Some embedded clients drop the padding.
		enc = base64.RawStdEncoding
		cred = bytes.TrimRight(cred, "=")
	}
	n, err := enc.Decode(buf[:], cred)
	if err != nil {
		clear(buf[:])
		return nil, nil, 0, false
	}
	i := bytes.IndexByte(buf[:n], ':')
	if i < 0 {
		clear(buf[:n])
		return nil, nil, 0, false
	}
	return buf[:i], buf[i+1 : n], n, true
}

// authParam returns the value of key in an auth-param list
// (key=token or key="quoted"), unquoted but not unescaped.
func authParam(params []byte, key string) []byte {
	for i := 0; len(params) > 0 && i < 32; i++ {
		params = bytes.TrimLeft(params, " \t,")
		eq := bytes.IndexByte(params, '=')
		if eq <= 0 {
			return nil
		}
		name := bytes.TrimSpace(params[:eq])
		params = bytes.TrimLeft(params[eq+1:], " \t")
		var val []byte
		if len(params) > 0 && params[0] == '"' {
			j := 1
			for j < len(params) && params[j] != '"' {
				if params[j] == '\\' {
					j++
				}
				j++
			}
			if j > len(params) {
				j = len(params)
			}
			val = params[1:j]
			if j < len(params) {
				j++
			}
			params = params[j:]
		} else {
			end := bytes.IndexByte(params, ',')
			if end < 0 {
				end = len(params)
			}
			val = bytes.TrimSpace(params[:end])
			params = params[end:]
		}
		if bytes.EqualFold(name, []byte(key)) {
			return val
		}
	}
	return nil
}
