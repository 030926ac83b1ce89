package ui

import (
	"fmt"
	"html/template"
	"net/url"
	"strings"
	"testing"
)

// mustPage parses a console page for a test that renders it.
func mustPage(t *testing.T, pages *pageSet, name string) *template.Template {
	t.Helper()
	p, err := pages.page(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestEveryPageParses: pages are parsed on first use at run time, so this
// is where a broken template is caught; an unknown page is an error, and a
// page is parsed once.
func TestEveryPageParses(t *testing.T) {
	pages, err := loadPages()
	if err != nil {
		t.Fatal(err)
	}
	if len(pages.files) < 25 {
		t.Fatalf("found %d console pages, want every console/*.html page but the layout and partials", len(pages.files))
	}
	for name := range pages.files {
		p := mustPage(t, pages, name)
		if name != "message.html" && p.Lookup("content") == nil {
			t.Errorf("page %s defines no content block", name)
		}
		if again := mustPage(t, pages, name); again != p {
			t.Errorf("page %s parsed twice", name)
		}
	}
	if _, err := pages.page("layout.html"); err == nil {
		t.Error("the layout is served as a page")
	}
	if _, err := pages.page("nope.html"); err == nil {
		t.Error("an unknown page is not an error")
	}
}

// TestCSVCellKeepsFormulasInert (issue 19): an exported value a
// spreadsheet would run as a formula is made text; others are unchanged.
func TestCSVCellKeepsFormulasInert(t *testing.T) {
	for in, want := range map[string]string{
		"=HYPERLINK(\"x\")": "'=HYPERLINK(\"x\")", "+1": "'+1", "-2": "'-2", "@SUM(A1)": "'@SUM(A1)", "\tx": "'\tx",
		"ada@example.com": "ada@example.com", "": "", "user": "user", `{"a":1}`: `{"a":1}`,
	} {
		if got := csvCell(in); got != want {
			t.Errorf("csvCell(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPageLinks (issue 19): a keyset-paged list links back as well as on;
// the earlier pages' cursors ride in ?back=, bounded, and a broken one is
// refused.
func TestPageLinks(t *testing.T) {
	c := func(n int) string { return fmt.Sprintf("%026d", n) }
	f := url.Values{"q": {"ann"}}
	first, prev, next := pageLinks("/u", f, "", nil, c(1))
	if first != "" || prev != "" || next != "/u?cursor="+c(1)+"&q=ann" {
		t.Errorf("first page: %q %q %q", first, prev, next)
	}
	first, prev, next = pageLinks("/u", f, c(1), nil, c(2))
	if first != "" || prev != "/u?q=ann" || next != "/u?back="+c(1)+"&cursor="+c(2)+"&q=ann" {
		t.Errorf("second page: %q %q %q", first, prev, next)
	}
	first, prev, next = pageLinks("/u", f, c(2), []string{c(1)}, "")
	if first != "/u?q=ann" || prev != "/u?cursor="+c(1)+"&q=ann" || next != "" {
		t.Errorf("third and last page: %q %q %q", first, prev, next)
	}
	var long []string
	for i := range maxBackCursors + 5 {
		long = append(long, c(i))
	}
	if got, err := backCursors(strings.Join(long, ",")); err != nil || len(got) != maxBackCursors || got[0] != c(5) {
		t.Errorf("backCursors of %d: %d kept from %v, %v", len(long), len(got), got[:1], err)
	}
	_, _, next = pageLinks("/u", nil, c(99), long[:maxBackCursors], c(100))
	if u, _ := url.Parse(next); len(strings.Split(u.Query().Get("back"), ",")) != maxBackCursors {
		t.Errorf("next link beyond the bound carries %q", u.Query().Get("back"))
	}
	if _, err := backCursors(c(1) + ",not-a-cursor"); err == nil {
		t.Error("a broken back cursor was accepted")
	}
}
