package ui

import (
	"html/template"
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
