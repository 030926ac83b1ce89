package attributes

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"

	"github.com/oschwald/maxminddb-golang/v2"
)

// errNoGeoIP is a country asked of a guard without a GeoIP database.
var errNoGeoIP = errors.New("attributes: no GeoIP database")

// geoIP answers the country of an address from a MaxMind-format database
// (GeoIP2/GeoLite2 Country or City, or any database whose records carry
// country.iso_code). A nil *geoIP is a guard without one.
type geoIP struct {
	// mu keeps Close from unmapping the file under a lookup in flight.
	mu     sync.RWMutex
	reader *maxminddb.Reader
	own    bool // opened from Config.GeoIPDatabase, so closed by the guard
}

// openGeoIP opens the database Config names, if any.
func openGeoIP(cfg Config) (*geoIP, error) {
	switch {
	case cfg.GeoIPDatabase != "" && cfg.GeoIP != nil:
		return nil, errors.New("attributes: set Config.GeoIPDatabase or Config.GeoIP, not both")
	case cfg.GeoIP != nil:
		return &geoIP{reader: cfg.GeoIP}, nil
	case cfg.GeoIPDatabase == "":
		return nil, nil
	}
	r, err := maxminddb.Open(cfg.GeoIPDatabase)
	if err != nil {
		return nil, fmt.Errorf("attributes: GeoIP database: %w", err)
	}
	return &geoIP{reader: r, own: true}, nil
}

// country is the upper-case ISO 3166-1 alpha-2 code of addr's country, ""
// for an address the database does not know (or knows no country of).
func (g *geoIP) country(addr netip.Addr) (string, error) {
	if g == nil {
		return "", errNoGeoIP
	}
	if !addr.IsValid() {
		return "", nil
	}
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.reader == nil {
		return "", errNoGeoIP
	}
	var iso string
	if err := g.reader.Lookup(addr).DecodePath(&iso, "country", "iso_code"); err != nil {
		return "", err
	}
	return iso, nil
}

// close closes a database the guard opened; after it, country answers
// errNoGeoIP (countries fail closed).
func (g *geoIP) close() error {
	if g == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	r := g.reader
	g.reader = nil
	if r == nil || !g.own {
		return nil
	}
	return r.Close()
}

// CountryDatabase is a MaxMind-format database read for the country of an
// address, as the Guard's country rules read it: for servers that name
// countries themselves (Ward's refusal events, WARD_GEOIP_DB).
type CountryDatabase struct{ g *geoIP }

// OpenCountryDatabase opens the database at path.
func OpenCountryDatabase(path string) (*CountryDatabase, error) {
	if path == "" {
		return nil, errors.New("attributes: no GeoIP database path")
	}
	g, err := openGeoIP(Config{GeoIPDatabase: path})
	if err != nil {
		return nil, err
	}
	return &CountryDatabase{g: g}, nil
}

// Country is the upper-case ISO 3166-1 alpha-2 code of addr's country
// (an IPv4-mapped address is looked up as IPv4), "" for an address the
// database does not place; after Close, an error.
func (d *CountryDatabase) Country(addr netip.Addr) (string, error) {
	return d.g.country(addr.Unmap())
}

// Close closes the database.
func (d *CountryDatabase) Close() error { return d.g.close() }
