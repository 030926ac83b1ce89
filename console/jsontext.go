package console

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/wardiam/ward/realm"
)

// multilineFields are the JSON fields, by path, that are free text
// spanning lines, where tab and line breaks are allowed
// (realm.TextProblem): top-level descriptions and policy conditions, and
// an identity provider's pasted SAML metadata.
var multilineFields = map[string]bool{"description": true, "condition": true, "saml.metadata_xml": true}

// checkJSONText walks a body's tokens before it is decoded and names, by
// path (name, audience[3], attributes.region), every string and every
// object key that is not acceptable text (realm.TextProblem) and every key
// given twice in one object. It has to look before decoding:
// encoding/json silently keeps the last of duplicate keys and turns
// invalid UTF-8 and lone surrogate escapes into U+FFFD. A body that is
// not well-formed JSON passes here; decoding then says where it breaks.
func checkJSONText(data []byte) error {
	w := textWalker{data: data, dec: json.NewDecoder(bytes.NewReader(data))}
	w.dec.UseNumber()
	for !w.tooDeep {
		start := w.dec.InputOffset()
		tok, err := w.dec.Token()
		if err != nil {
			break // io.EOF, or malformed JSON that decoding reports
		}
		w.token(tok, data[start:w.dec.InputOffset()])
	}
	return w.errs.OrNil()
}

// maxJSONDepth bounds how deeply a body's objects and arrays nest. The
// deepest the admin API takes is an attribute list inside a group's
// attributes (3 levels); without a bound a 1 MiB body of "[" would make
// the walk build ever longer paths (quadratic time and memory).
const maxJSONDepth = 32

// jsonFrame is an object or array being walked.
type jsonFrame struct {
	path    string
	object  bool
	keys    map[string]bool // object: the keys seen
	key     string          // object: the key whose value comes next
	wantKey bool            // object: a key (or the end) comes next
	index   int             // array: the index of the next element
}

type textWalker struct {
	data  []byte
	dec   *json.Decoder
	stack []*jsonFrame
	errs  realm.ValidationError
	// tooDeep ends the walk at the first object or array past maxJSONDepth.
	tooDeep bool
}

// token handles one token; raw is the input it was read from (its string
// with any separator and white space before it).
func (w *textWalker) token(tok json.Token, raw []byte) {
	top := w.top()
	if top != nil && top.object && top.wantKey {
		if key, ok := tok.(string); ok {
			w.key(top, key, raw)
			return
		}
		w.pop() // '}'
		return
	}
	path := w.valuePath(top)
	switch t := tok.(type) {
	case json.Delim:
		if (t == '{' || t == '[') && len(w.stack) >= maxJSONDepth {
			w.errs.Add(path, "is nested too deeply: objects and arrays may nest at most "+strconv.Itoa(maxJSONDepth)+" levels")
			w.tooDeep = true
			return
		}
		switch t {
		case '{':
			w.stack = append(w.stack, &jsonFrame{path: path, object: true, keys: map[string]bool{}, wantKey: true})
		case '[':
			w.stack = append(w.stack, &jsonFrame{path: path})
		default: // ']'
			w.pop()
		}
		return
	case string:
		if top == nil {
			break // not an object at all: decoding says so
		}
		if p := stringProblem(t, raw, top.object && multilineFields[path]); p != "" {
			w.errs.Add(path, p)
		}
	}
	w.next(top)
}

// key checks an object key: acceptable text, and not seen before in this
// object. A bad key is named JSON-quoted (realm.FieldName).
func (w *textWalker) key(f *jsonFrame, key string, raw []byte) {
	name := realm.FieldName(key)
	if p := stringProblem(key, raw, false); p != "" {
		if name == key { // bad bytes that decoding replaced: quote what is left
			name = strconv.Quote(key)
		}
		w.errs.Add(join(f.path, name), "is not an acceptable field name: it "+p)
	} else if f.keys[key] {
		w.errs.Add(join(f.path, name), "is given more than once")
	}
	f.keys[key] = true
	f.key, f.wantKey = key, false
}

func (w *textWalker) top() *jsonFrame {
	if len(w.stack) == 0 {
		return nil
	}
	return w.stack[len(w.stack)-1]
}

// pop ends the innermost object or array, which is a value of the one
// around it.
func (w *textWalker) pop() {
	w.stack = w.stack[:len(w.stack)-1]
	w.next(w.top())
}

// next moves f past the value just read.
func (w *textWalker) next(f *jsonFrame) {
	switch {
	case f == nil:
	case f.object:
		f.wantKey = true
	default:
		f.index++
	}
}

// valuePath names the value about to be read in f.
func (w *textWalker) valuePath(f *jsonFrame) string {
	switch {
	case f == nil:
		return ""
	case f.object:
		return join(f.path, realm.FieldName(f.key))
	}
	return f.path + "[" + strconv.Itoa(f.index) + "]"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// stringProblem is realm.TextProblem for a decoded JSON string s read from
// raw, which also shows what decoding hid: invalid UTF-8 and escaped lone
// surrogates, both of which decode to U+FFFD.
func stringProblem(s string, raw []byte, multiline bool) string {
	if !utf8.Valid(raw) || (strings.ContainsRune(s, utf8.RuneError) && loneSurrogate(raw)) {
		return "must be valid UTF-8"
	}
	return realm.TextProblem(s, multiline)
}

// loneSurrogate reports whether the JSON string in raw has a \u escape of
// a UTF-16 surrogate that is not part of a pair.
func loneSurrogate(raw []byte) bool {
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' || i+1 >= len(raw) {
			continue
		}
		if raw[i+1] != 'u' {
			i++ // an escaped character, perhaps a backslash
			continue
		}
		r, ok := hex4(raw, i+2)
		switch {
		case !ok:
		case r >= 0xDC00 && r <= 0xDFFF:
			return true // a low surrogate with no high one before it
		case r >= 0xD800 && r <= 0xDBFF:
			low, ok := rune(0), false
			if i+7 < len(raw) && raw[i+6] == '\\' && raw[i+7] == 'u' {
				low, ok = hex4(raw, i+8)
			}
			if !ok || low < 0xDC00 || low > 0xDFFF {
				return true
			}
			i += 6 // skip the pair's low half
		}
		i += 5
	}
	return false
}

// hex4 reads the four hex digits at raw[i:].
func hex4(raw []byte, i int) (rune, bool) {
	if i+4 > len(raw) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(raw[i:i+4]), 16, 32)
	return rune(n), err == nil
}
