// Package contract checks MQTT traffic against the AsyncAPI 3.0 document
// that describes the store–HQ link (deploy/asyncapi.yaml).
//
// Load reads the document and compiles every message payload schema (JSON
// Schema draft 7, the base of AsyncAPI's schema format). Validate finds the
// channel whose address matches a topic, its parameters acting as
// single-level wildcards, and validates the payload against the channel's
// messages. A message may name the parameter values it is for with the
// extension x-redcarpet-parameters (the uplink channel has one message per
// event kind: the kind in the topic selects the message, whose schema
// requires every event of the batch to be of that kind and its data to
// match that kind's schema). A parameter may restrict its values with enum,
// and with the extension x-redcarpet-pattern (a regular expression).
//
// Only local references (#/…) are followed, and only the default schema
// format or an explicit JSON Schema / AsyncAPI schemaFormat is supported.
package contract

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

// Contract is a loaded AsyncAPI document.
type Contract struct {
	// AsyncAPI and Version are the document's asyncapi and info.version.
	AsyncAPI, Version string

	channels []*channel
}

type channel struct {
	name     string
	address  string
	levels   []string // address levels; "{name}" is a parameter
	params   map[string]*param
	messages []*message
}

type param struct {
	enum    []string
	pattern *regexp.Regexp
}

type message struct {
	name   string
	params map[string]string // x-redcarpet-parameters
	schema *jsonschema.Schema
}

// Load reads and compiles the AsyncAPI document at path.
func Load(path string) (*Contract, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("contract: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("contract: %w", err)
	}
	c, err := Parse("file://"+filepath.ToSlash(abs), data)
	if err != nil {
		return nil, fmt.Errorf("contract %s: %w", path, err)
	}
	return c, nil
}

// Parse compiles an AsyncAPI document given as YAML (or JSON); url names
// it in error messages.
func Parse(url string, data []byte) (*Contract, error) {
	var y any
	if err := yaml.Unmarshal(data, &y); err != nil {
		return nil, err
	}
	// Round-trip through JSON: the schema compiler wants JSON values
	// (json.Number, map[string]any, []any).
	j, err := json.Marshal(y)
	if err != nil {
		return nil, fmt.Errorf("not representable as JSON: %w", err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		return nil, err
	}
	root, ok := doc.(map[string]any)
	if !ok {
		return nil, errors.New("not an AsyncAPI document: not a mapping")
	}
	c := &Contract{}
	c.AsyncAPI, _ = root["asyncapi"].(string)
	if !strings.HasPrefix(c.AsyncAPI, "3.") {
		return nil, fmt.Errorf("asyncapi %q: only AsyncAPI 3 documents are supported", c.AsyncAPI)
	}
	if info, ok := root["info"].(map[string]any); ok {
		c.Version, _ = info["version"].(string)
	}

	comp := jsonschema.NewCompiler()
	comp.DefaultDraft(jsonschema.Draft7)
	comp.AssertFormat()
	if err := comp.AddResource(url, doc); err != nil {
		return nil, err
	}
	r := resolver{root: root}
	channels, _ := root["channels"].(map[string]any)
	if len(channels) == 0 {
		return nil, errors.New("no channels")
	}
	for _, name := range sortedKeys(channels) {
		ch, err := c.channel(&r, comp, url, name, channels[name])
		if err != nil {
			return nil, fmt.Errorf("channel %s: %w", name, err)
		}
		c.channels = append(c.channels, ch)
	}
	return c, nil
}

func (c *Contract) channel(r *resolver, comp *jsonschema.Compiler, url, name string, v any) (*channel, error) {
	obj, _, err := r.object(v, "/channels/"+escape(name))
	if err != nil {
		return nil, err
	}
	ch := &channel{name: name, params: map[string]*param{}}
	ch.address, _ = obj["address"].(string)
	if ch.address == "" {
		return nil, errors.New("no address (channels without one are not supported)")
	}
	ch.levels = strings.Split(ch.address, "/")
	params, _ := obj["parameters"].(map[string]any)
	for _, l := range ch.levels {
		if !isParam(l) {
			if strings.ContainsAny(l, "{}+#") {
				return nil, fmt.Errorf("address level %q: a parameter must be a whole level", l)
			}
			continue
		}
		pn := l[1 : len(l)-1]
		pv, ok := params[pn]
		if !ok {
			return nil, fmt.Errorf("parameter %s is not defined", pn)
		}
		po, _, err := r.object(pv, "")
		if err != nil {
			return nil, fmt.Errorf("parameter %s: %w", pn, err)
		}
		p := &param{}
		if e, ok := po["enum"].([]any); ok {
			for _, s := range e {
				str, ok := s.(string)
				if !ok {
					return nil, fmt.Errorf("parameter %s: enum value %v is not a string", pn, s)
				}
				p.enum = append(p.enum, str)
			}
		}
		if pat, ok := po["x-redcarpet-pattern"].(string); ok {
			if p.pattern, err = regexp.Compile(pat); err != nil {
				return nil, fmt.Errorf("parameter %s: %w", pn, err)
			}
		}
		ch.params[pn] = p
	}
	msgs, _ := obj["messages"].(map[string]any)
	if len(msgs) == 0 {
		return nil, errors.New("no messages")
	}
	for _, mn := range sortedKeys(msgs) {
		mo, ptr, err := r.object(msgs[mn], "/channels/"+escape(name)+"/messages/"+escape(mn))
		if err != nil {
			return nil, fmt.Errorf("message %s: %w", mn, err)
		}
		m := &message{name: mn, params: map[string]string{}}
		if xp, ok := mo["x-redcarpet-parameters"].(map[string]any); ok {
			for k, v := range xp {
				s, isString := v.(string)
				if _, known := ch.params[k]; !isString || !known {
					return nil, fmt.Errorf("message %s: x-redcarpet-parameters: %s is not a parameter of the channel, or its value not a string", mn, k)
				}
				m.params[k] = s
			}
		}
		loc := ptr + "/payload"
		pl, ok := mo["payload"].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("message %s: no payload schema", mn)
		}
		if f, ok := pl["schemaFormat"].(string); ok {
			if !strings.HasPrefix(f, "application/schema+json") && !strings.HasPrefix(f, "application/vnd.aai.asyncapi") {
				return nil, fmt.Errorf("message %s: schemaFormat %q is not supported", mn, f)
			}
			loc += "/schema"
		}
		if m.schema, err = comp.Compile(url + "#" + loc); err != nil {
			return nil, fmt.Errorf("message %s: %w", mn, err)
		}
		ch.messages = append(ch.messages, m)
	}
	return ch, nil
}

// Channels returns the addresses of the document's channels by name.
func (c *Contract) Channels() map[string]string {
	out := make(map[string]string, len(c.channels))
	for _, ch := range c.channels {
		out[ch.name] = ch.address
	}
	return out
}

// Match returns the channel whose address matches topic and the values of
// its parameters. When several match, the one with the fewest parameters
// (the most literal address) wins.
func (c *Contract) Match(topic string) (name string, params map[string]string, ok bool) {
	ch, params := c.match(topic)
	if ch == nil {
		return "", nil, false
	}
	return ch.name, params, true
}

func (c *Contract) match(topic string) (*channel, map[string]string) {
	levels := strings.Split(topic, "/")
	var (
		best       *channel
		bestParams map[string]string
	)
	for _, ch := range c.channels {
		if len(ch.levels) != len(levels) {
			continue
		}
		params := map[string]string{}
		ok := true
		for i, l := range ch.levels {
			if !isParam(l) {
				ok = l == levels[i]
			} else {
				v := levels[i]
				p := ch.params[l[1:len(l)-1]]
				ok = v != "" && !strings.ContainsAny(v, "+#") &&
					(p.enum == nil || slices.Contains(p.enum, v)) &&
					(p.pattern == nil || p.pattern.MatchString(v))
				params[l[1:len(l)-1]] = v
			}
			if !ok {
				break
			}
		}
		if ok && (best == nil || len(params) < len(bestParams)) {
			best, bestParams = ch, params
		}
	}
	return best, bestParams
}

// Validate checks that topic is the address of a channel of the contract
// and payload one of the messages that channel carries for the topic's
// parameter values.
func (c *Contract) Validate(topic string, payload []byte) error {
	ch, params := c.match(topic)
	if ch == nil {
		return fmt.Errorf("topic %q matches no channel of the contract", topic)
	}
	var cands []*message
	for _, m := range ch.messages {
		ok := true
		for k, v := range m.params {
			ok = ok && params[k] == v
		}
		if ok {
			cands = append(cands, m)
		}
	}
	if len(cands) == 0 {
		return fmt.Errorf("topic %q (channel %s): no message for parameters %v", topic, ch.name, params)
	}
	if len(bytes.TrimSpace(payload)) == 0 {
		return fmt.Errorf("topic %q (channel %s): empty payload", topic, ch.name)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(payload))
	if err != nil {
		return fmt.Errorf("topic %q (channel %s): payload is not JSON: %w", topic, ch.name, err)
	}
	var errs []error
	for _, m := range cands {
		err := m.schema.Validate(v)
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("message %s: %w", m.name, err))
	}
	return fmt.Errorf("topic %q (channel %s): payload matches no message: %w", topic, ch.name, errors.Join(errs...))
}

func isParam(level string) bool {
	return len(level) > 2 && level[0] == '{' && level[len(level)-1] == '}'
}

// resolver follows local references (#/…) in the document.
type resolver struct{ root map[string]any }

// object returns v as an object, following $ref chains, and the JSON
// pointer of the object it ends at (ptr when v is not a reference).
func (r *resolver) object(v any, ptr string) (map[string]any, string, error) {
	for range 32 {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, "", fmt.Errorf("%s is not an object", orRoot(ptr))
		}
		ref, ok := obj["$ref"].(string)
		if !ok {
			return obj, ptr, nil
		}
		frag, ok := strings.CutPrefix(ref, "#")
		if !ok {
			return nil, "", fmt.Errorf("reference %q: only local references are supported", ref)
		}
		if v, ok = r.lookup(frag); !ok {
			return nil, "", fmt.Errorf("reference %q does not resolve", ref)
		}
		ptr = frag
	}
	return nil, "", fmt.Errorf("%s: reference chain too long", orRoot(ptr))
}

// lookup resolves a JSON pointer (RFC 6901) in the document.
func (r *resolver) lookup(ptr string) (any, bool) {
	var v any = r.root
	if ptr == "" {
		return v, true
	}
	if !strings.HasPrefix(ptr, "/") {
		return nil, false
	}
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = obj[tok]; !ok {
			return nil, false
		}
	}
	return v, true
}

func escape(tok string) string {
	return strings.ReplaceAll(strings.ReplaceAll(tok, "~", "~0"), "/", "~1")
}

func orRoot(ptr string) string {
	if ptr == "" {
		return "the value"
	}
	return ptr
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
