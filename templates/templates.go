// Package templates holds Portcullis's HTML pages and static assets.
//
// The files are embedded in FS. Load parses the shared layout and every page
// once, at start-up, and fails if a page the handlers need is missing. In
// development, os.DirFS("templates") can stand in for FS.
//
// It owns the pages, the layout and the static files, and the data types the pages render. It imports
// the standard library only: the handlers (login, admin) import it, never the other way round, and it
// holds no handler logic and reads no storage.
package templates

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// FS holds the embedded pages and static assets.
//
//go:embed pages static
var FS embed.FS

const (
	pagesDir   = "pages"
	staticDir  = "static"
	layoutFile = "layout.html"
	layoutName = "layout"
)

// requiredPages lists the pages the handlers render. Load fails if any is missing.
func requiredPages() []string {
	return []string{
		"login",
		"otp",
		"recovery",
		"enrol",
		"enrol_code",
		"reset_done",
		"recovery_codes",
		"error",
		"locked",
		"logged_out",
		"confirm",
		"forgot",
		"new_password",
		"settings",
		"account",
		"key",
		"key_enrol",
	}
}

// Templates is the parsed set of pages, each combined with the shared layout.
type Templates struct {
	pages map[string]*template.Template
}

// Load parses pages/layout.html and every other pages/*.html file in fsys.
// A page is named after its file without the extension ("login" for
// pages/login.html). Load returns an error naming every required page that
// is missing.
func Load(fsys fs.FS) (*Templates, error) {
	layout, err := template.New(layoutName).Funcs(funcs()).ParseFS(fsys, path.Join(pagesDir, layoutFile))
	if err != nil {
		return nil, fmt.Errorf("templates: parse layout: %w", err)
	}
	if layout.Lookup(layoutName) == nil {
		return nil, fmt.Errorf("templates: %s does not define %q", layoutFile, layoutName)
	}

	files, err := fs.Glob(fsys, path.Join(pagesDir, "*.html"))
	if err != nil {
		return nil, fmt.Errorf("templates: list pages: %w", err)
	}
	pages := make(map[string]*template.Template, len(files))
	for _, file := range files {
		base := path.Base(file)
		if base == layoutFile {
			continue
		}
		name := strings.TrimSuffix(base, ".html")
		t, err := layout.Clone()
		if err != nil {
			return nil, fmt.Errorf("templates: clone layout for %s: %w", name, err)
		}
		if t, err = t.ParseFS(fsys, file); err != nil {
			return nil, fmt.Errorf("templates: parse page %s: %w", name, err)
		}
		pages[name] = t
	}

	var missing []string
	for _, name := range requiredPages() {
		if _, ok := pages[name]; !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("templates: missing required pages: %s", strings.Join(missing, ", "))
	}
	return &Templates{pages: pages}, nil
}

// Render executes the page called name with data and writes it to w. The page
// is rendered into a buffer first, so a failed render writes nothing.
func (t *Templates) Render(w io.Writer, name string, data any) error {
	page, ok := t.pages[name]
	if !ok {
		return fmt.Errorf("templates: no page %q", name)
	}
	var buf bytes.Buffer
	if err := page.ExecuteTemplate(&buf, layoutName, data); err != nil {
		return fmt.Errorf("templates: render %s: %w", name, err)
	}
	if _, err := buf.WriteTo(w); err != nil {
		return fmt.Errorf("templates: write %s: %w", name, err)
	}
	return nil
}

// Pages returns the names of the loaded pages, sorted.
func (t *Templates) Pages() []string {
	names := make([]string, 0, len(t.pages))
	for name := range t.pages {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Static returns the static assets in fsys (its "static" directory), to be
// served under /login/static/.
func Static(fsys fs.FS) (fs.FS, error) {
	info, err := fs.Stat(fsys, staticDir)
	if err != nil {
		return nil, fmt.Errorf("templates: static assets: %w", err)
	}
	if !info.IsDir() {
		return nil, errors.New("templates: static assets: " + staticDir + " is not a directory")
	}
	sub, err := fs.Sub(fsys, staticDir)
	if err != nil {
		return nil, fmt.Errorf("templates: static assets: %w", err)
	}
	return sub, nil
}

func funcs() template.FuncMap {
	return template.FuncMap{
		"fmtTime": fmtTime,
		"isoTime": isoTime,
		"join":    strings.Join,
		"initial": initial,
	}
}

// asTime accepts a time.Time or *time.Time and reports whether it is set.
func asTime(v any) (time.Time, bool) {
	switch t := v.(type) {
	case time.Time:
		return t, !t.IsZero()
	case *time.Time:
		if t == nil {
			return time.Time{}, false
		}
		return *t, !t.IsZero()
	default:
		return time.Time{}, false
	}
}

// fmtTime formats a time.Time or *time.Time in UTC as "2006-01-02 15:04 MST".
// A zero or nil time formats as "".
func fmtTime(v any) string {
	t, ok := asTime(v)
	if !ok {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04 MST")
}

// isoTime formats a time for a <time datetime="..."> attribute.
func isoTime(v any) string {
	t, ok := asTime(v)
	if !ok {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// initial returns the first letter of s, upper-cased, for an avatar.
func initial(s string) string {
	s = strings.TrimSpace(s)
	r, _ := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError {
		return ""
	}
	return string(unicode.ToUpper(r))
}
