// Peer for dockyard.compat.gotemplate: Go's own text/template with docker/cli's template functions
// (templates/templates.go). Reads a JSON array of {"template": ..., "data": ...} on stdin and writes a JSON
// array of {"out": ...} or {"err": ...}, one per case ("option": "missingkey=error" as Docker's inspect), in one process for the whole corpus.
// Data is decoded with UseNumber, then each number becomes an int when it is an integer that fits in
// int64, a float64 otherwise (the data model dockyard.compat.gotypes.decode_json gives Python).
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/template"
)

var dockerFunctions = template.FuncMap{
	"json": func(v interface{}) string {
		buf := &bytes.Buffer{}
		enc := json.NewEncoder(buf)
		enc.SetEscapeHTML(false)
		enc.Encode(v)
		return strings.TrimSpace(buf.String())
	},
	"split":    strings.Split,
	"join":     strings.Join,
	"title":    strings.Title,
	"lower":    strings.ToLower,
	"upper":    strings.ToUpper,
	"pad":      padWithSpace,
	"truncate": truncateWithLength,
}

func padWithSpace(source string, prefix, suffix int) string {
	if source == "" {
		return source
	}
	return strings.Repeat(" ", prefix) + source + strings.Repeat(" ", suffix)
}

func truncateWithLength(source string, length int) string {
	if len(source) < length {
		return source
	}
	return source[:length]
}

type testCase struct {
	Template string          `json:"template"`
	Data     json.RawMessage `json:"data"`
	Option   string          `json:"option"`
}

type result struct {
	Out *string `json:"out,omitempty"`
	Err *string `json:"err,omitempty"`
}

func convert(v interface{}) interface{} {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil && int64(int(i)) == i {
			return int(i)
		}
		f, _ := x.Float64()
		return f
	case []interface{}:
		for i := range x {
			x[i] = convert(x[i])
		}
		return x
	case map[string]interface{}:
		for k := range x {
			x[k] = convert(x[k])
		}
		return x
	}
	return v
}

func run(c testCase) (res result) {
	defer func() {
		if r := recover(); r != nil {
			msg := fmt.Sprintf("panic: %v", r)
			res = result{Err: &msg}
		}
	}()
	var data interface{}
	if len(c.Data) > 0 {
		dec := json.NewDecoder(bytes.NewReader(c.Data))
		dec.UseNumber()
		if err := dec.Decode(&data); err != nil {
			msg := "bad data: " + err.Error()
			return result{Err: &msg}
		}
		data = convert(data)
	}
	tmpl, err := template.New("").Funcs(dockerFunctions).Parse(c.Template)
	if err != nil {
		msg := err.Error()
		return result{Err: &msg}
	}
	if c.Option != "" {
		tmpl = tmpl.Option(c.Option)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, data); err != nil {
		msg := err.Error()
		return result{Err: &msg}
	}
	out := buf.String()
	return result{Out: &out}
}

func main() {
	var cases []testCase
	if err := json.NewDecoder(os.Stdin).Decode(&cases); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	results := make([]result, len(cases))
	for i, c := range cases {
		results[i] = run(c)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(results); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
}
