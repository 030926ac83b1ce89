// Package testgeoip writes small MaxMind-format country databases for
// tests of country rules (the Guard's) and of refusal events that name a
// country (Ward's WARD_GEOIP_DB). Tests only: it pulls in mmdbwriter,
// which nothing that ships may import.
package testgeoip

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// WriteCountryDB writes a country database to dir and returns its path:
// 203.0.113.0/24 and 2001:db8::/32 in Germany, 198.51.100.0/24 in France,
// 192.0.2.0/24 in a record without a country; nothing else.
func WriteCountryDB(t testing.TB, dir string) string {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "Ward-Test-Country", IncludeReservedNetworks: true, RecordSize: 24})
	if err != nil {
		t.Fatal(err)
	}
	country := func(iso string) mmdbtype.Map {
		return mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String(iso)}}
	}
	for cidr, rec := range map[string]mmdbtype.Map{
		"203.0.113.0/24":  country("DE"),
		"2001:db8::/32":   country("DE"),
		"198.51.100.0/24": country("FR"),
		"192.0.2.0/24":    {"continent": mmdbtype.Map{"code": mmdbtype.String("EU")}},
	} {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			t.Fatal(err)
		}
		if err := tree.Insert(n, rec); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "country.mmdb")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tree.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}
