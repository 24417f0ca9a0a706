package signage

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/redcarpet-retail/redcarpet/configs"
	"github.com/redcarpet-retail/redcarpet/edge"
)

var (
	//go:embed assets
	assetFS embed.FS
	//go:embed templates
	templateFS embed.FS

	pages = template.Must(template.ParseFS(templateFS, "templates/*.html"))

	// assetVersion changes whenever an embedded asset does; pages link
	// assets with it, so browsers may cache them and still never run stale
	// scripts after an upgrade.
	assetVersion = sync.OnceValue(func() string {
		sum := sha256.New()
		fs.WalkDir(assetFS, "assets", func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				b, _ := assetFS.ReadFile(path)
				fmt.Fprintf(sum, "%s %d\n", path, len(b))
				sum.Write(b)
			}
			return nil
		})
		return hex.EncodeToString(sum.Sum(nil)[:6])
	})
)

// page is what the page templates see.
type page struct {
	Store  string
	Title  string
	Assets string // asset version, for cache busting
	Place  configs.Place
	Zones  []configs.Place
	Lanes  []configs.Place
	Events string // the page's event stream
	Plays  string // where a signage player reports proof of play
	Data   any    // the page's initial data, embedded as JSON
}

func (s *Server) newPage(title string) page {
	return page{Store: s.o.StoreName, Title: title, Assets: assetVersion(), Zones: s.o.Zones, Lanes: s.o.Lanes}
}

// overview is the /api/overview document.
type overview struct {
	Store  string         `json:"store"`
	Stats  edge.Stats     `json:"stats"`
	Status map[string]any `json:"status"`
	// Screens counts the connected signage screens and checkout terminals.
	Screens Stats `json:"screens"`
}

func (s *Server) snapshot() overview {
	ov := overview{Store: s.o.StoreName, Status: map[string]any{}, Screens: s.Stats()}
	if s.o.Stats != nil {
		ov.Stats = s.o.Stats()
	}
	if s.o.Status != nil {
		if st := s.o.Status(); st != nil {
			ov.Status = st
		}
	}
	return ov
}

func (s *Server) serveOverview(w http.ResponseWriter, _ *http.Request) {
	p := s.newPage("Store overview")
	p.Data = s.snapshot()
	s.render(w, "overview.html", p)
}

func (s *Server) serveOverviewJSON(w http.ResponseWriter, _ *http.Request) {
	s.writeJSON(w, s.snapshot())
}

// loop is the /signage/{zone}/loop document.
type loop struct {
	Store string `json:"store"`
	Zone  string `json:"zone"`
	Name  string `json:"name"`
	// TimeZone is the store's: the player picks each slide's daypart in
	// it, with its own clock, so dayparting goes on while it is offline.
	TimeZone string      `json:"timezone"`
	Slides   []loopSlide `json:"slides"`
}

type loopSlide struct {
	Title     string `json:"title,omitempty"`
	Body      string `json:"body,omitempty"`
	Image     string `json:"image,omitempty"`
	ShowForMS int64  `json:"show_for_ms"`
	// Days are the days it plays, Sunday first; From and Until its window
	// in minutes after local midnight.
	Days  [7]bool `json:"days"`
	From  int     `json:"from"`
	Until int     `json:"until"`
}

// loopOf is zone z's content loop: the slides for every zone and those
// for z.
func (s *Server) loopOf(z configs.Place) loop {
	l := loop{Store: s.o.StoreName, Zone: z.ID, Name: placeName(z), TimeZone: s.o.TimeZone, Slides: []loopSlide{}}
	if l.TimeZone == "" {
		l.TimeZone = "UTC"
	}
	for _, sl := range s.o.Slides {
		if len(sl.Zones) > 0 && !slices.Contains(sl.Zones, z.ID) {
			continue
		}
		d := sl.ShowFor.Duration
		if d <= 0 {
			d = defaultSlide
		}
		days, from, until := sl.Daypart()
		l.Slides = append(l.Slides, loopSlide{Title: sl.Title, Body: sl.Body, Image: sl.Image, ShowForMS: d.Milliseconds(),
			Days: days, From: from, Until: until})
	}
	return l
}

func (s *Server) serveSignage(w http.ResponseWriter, r *http.Request) {
	z, ok := findPlace(s.o.Zones, r.PathValue("zone"))
	if !ok {
		s.notFound(w, "zone", r.PathValue("zone"))
		return
	}
	p := s.newPage(placeName(z))
	p.Place, p.Events, p.Data = z, "/signage/"+z.ID+"/events", s.loopOf(z)
	p.Plays = "/api/v1/screens/" + z.ID + "/plays"
	s.render(w, "signage.html", p)
}

func (s *Server) serveLoop(w http.ResponseWriter, r *http.Request) {
	z, ok := findPlace(s.o.Zones, r.PathValue("zone"))
	if !ok {
		s.notFound(w, "zone", r.PathValue("zone"))
		return
	}
	s.writeJSON(w, s.loopOf(z))
}

func (s *Server) serveCheckout(w http.ResponseWriter, r *http.Request) {
	l, ok := findPlace(s.o.Lanes, r.PathValue("lane"))
	if !ok {
		s.notFound(w, "lane", r.PathValue("lane"))
		return
	}
	// A terminal is set up once with its token in the URL
	// (/checkout/2?token=…): the token goes into a cookie for this page and
	// its stream, and the browser is sent to the bare URL, so the token
	// stays out of the address bar and the history.
	if tok := r.URL.Query().Get("token"); tok != "" {
		switch owner := s.tokenOwner(tok); {
		case owner == l.ID || owner == adminOwner:
			http.SetCookie(w, &http.Cookie{Name: laneCookie, Value: tok, Path: "/", HttpOnly: true,
				SameSite: http.SameSiteStrictMode, MaxAge: 400 * 24 * 3600})
			http.Redirect(w, r, "/checkout/"+l.ID, http.StatusSeeOther)
		case owner != "":
			s.authFailures.Add(1)
			http.Error(w, "this token belongs to another lane", http.StatusForbidden)
		default:
			s.authFailures.Add(1)
			http.Error(w, "unknown token", http.StatusUnauthorized)
		}
		return
	}
	if r.Header.Get("Authorization") == "" {
		if _, err := r.Cookie(laneCookie); err != nil {
			// A browser without the terminal's token: ask for it.
			s.authFailures.Add(1)
			p := s.newPage(placeName(l))
			p.Place = l
			s.renderStatus(w, "login.html", p, http.StatusUnauthorized)
			return
		}
	}
	if !s.laneAuth(w, r, l.ID) {
		return
	}
	p := s.newPage(placeName(l))
	p.Place, p.Events = l, "/checkout/"+l.ID+"/events"
	s.render(w, "checkout.html", p)
}

// notFound explains which places exist, for the installer typing URLs into
// a kiosk browser.
func (s *Server) notFound(w http.ResponseWriter, kind, id string) {
	hubs := s.zones
	if kind == "lane" {
		hubs = s.lanes
	}
	known := "none are configured"
	if len(hubs) > 0 {
		known = "configured: " + strings.Join(slices.Sorted(maps.Keys(hubs)), ", ")
	}
	http.Error(w, fmt.Sprintf("unknown %s %q (%ss %s)", kind, id, kind, known), http.StatusNotFound)
}

func (s *Server) render(w http.ResponseWriter, name string, p page) {
	s.renderStatus(w, name, p, http.StatusOK)
}

func (s *Server) renderStatus(w http.ResponseWriter, name string, p page, status int) {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, p); err != nil {
		s.log.Error("render page", "page", name, "err", err)
		http.Error(w, "render page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	// Everything comes from the gateway; slide images may be any URL.
	h.Set("Content-Security-Policy", "default-src 'self'; img-src * data:; "+
		"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func (s *Server) writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.log.Error("encode json", "err", err)
		http.Error(w, "encode: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(append(b, '\n'))
}

// assetHandler serves the embedded assets under /assets/.
func assetHandler() http.Handler {
	files := http.FileServerFS(assetFS)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=86400")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	})
}

func findPlace(places []configs.Place, id string) (configs.Place, bool) {
	i := slices.IndexFunc(places, func(p configs.Place) bool { return p.ID == id })
	if i < 0 {
		return configs.Place{}, false
	}
	return places[i], true
}

func placeName(p configs.Place) string {
	if p.Name != "" {
		return p.Name
	}
	return p.ID
}
