package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// The ruleset JSON is read once into a small tree that keeps key order and rejects duplicate
// keys (which encoding/json would silently merge), then walked with the JSON path in hand so
// every problem can say where it is.

type jkind uint8

const (
	jNull jkind = iota
	jBool
	jNumber
	jString
	jArray
	jObject
)

func (k jkind) String() string {
	switch k {
	case jNull:
		return "null"
	case jBool:
		return "a boolean"
	case jNumber:
		return "a number"
	case jString:
		return "a string"
	case jArray:
		return "an array"
	case jObject:
		return "an object"
	}
	return fmt.Sprintf("jkind(%d)", int(k))
}

type jvalue struct {
	kind jkind
	b    bool
	s    string // string value or number text
	arr  []jvalue
	obj  []jmember
}

type jmember struct {
	key string
	val jvalue
}

func (v jvalue) get(key string) (jvalue, bool) {
	for _, m := range v.obj {
		if m.key == key {
			return m.val, true
		}
	}
	return jvalue{}, false
}

// maxJSONDepth is far deeper than any ruleset (five levels) and keeps recursion bounded.
const maxJSONDepth = 32

func parseJSON(data []byte) (jvalue, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := readJSON(dec, "", 0)
	if err != nil {
		return jvalue{}, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return jvalue{}, errors.New("invalid JSON: data after the top-level value")
	}
	return v, nil
}

func readJSON(dec *json.Decoder, path string, depth int) (jvalue, error) {
	if depth > maxJSONDepth {
		return jvalue{}, fmt.Errorf("%s: nested more than %d levels deep", pathOrTop(path), maxJSONDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return jvalue{}, fmt.Errorf("invalid JSON: %w", err)
	}
	switch t := tok.(type) {
	case nil:
		return jvalue{kind: jNull}, nil
	case bool:
		return jvalue{kind: jBool, b: t}, nil
	case json.Number:
		return jvalue{kind: jNumber, s: string(t)}, nil
	case string:
		return jvalue{kind: jString, s: t}, nil
	case json.Delim:
		if t == '[' {
			v := jvalue{kind: jArray}
			for i := 0; dec.More(); i++ {
				e, err := readJSON(dec, path+"["+strconv.Itoa(i)+"]", depth+1)
				if err != nil {
					return jvalue{}, err
				}
				v.arr = append(v.arr, e)
			}
			if _, err := dec.Token(); err != nil {
				return jvalue{}, fmt.Errorf("invalid JSON: %w", err)
			}
			return v, nil
		}
		v := jvalue{kind: jObject}
		var seen map[string]bool
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return jvalue{}, fmt.Errorf("invalid JSON: %w", err)
			}
			key, _ := tok.(string) // the decoder only yields string keys here
			if seen == nil {
				seen = map[string]bool{}
			}
			if seen[key] {
				return jvalue{}, fmt.Errorf("%s: duplicate key %q", pathOrTop(path), key)
			}
			seen[key] = true
			e, err := readJSON(dec, joinKey(path, key), depth+1)
			if err != nil {
				return jvalue{}, err
			}
			v.obj = append(v.obj, jmember{key, e})
		}
		if _, err := dec.Token(); err != nil {
			return jvalue{}, fmt.Errorf("invalid JSON: %w", err)
		}
		return v, nil
	}
	return jvalue{}, fmt.Errorf("invalid JSON: unexpected token %v", tok)
}

func pathOrTop(path string) string {
	if path == "" {
		return "top level"
	}
	return path
}

// joinKey appends an object key to a path: identifiers as .key, anything else as ["key"].
func joinKey(path, key string) string {
	plain := key != ""
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= '0' && c <= '9' && i > 0) {
			plain = false
			break
		}
	}
	if !plain {
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}
