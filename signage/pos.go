package signage

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/redcarpet-retail/redcarpet/edge"
)

// Checkout is the engine's side of the POS API (edge.Engine implements it).
type Checkout interface {
	OpenBasket(ctx context.Context, lane string, id edge.Identify) (edge.CheckoutView, error)
	CurrentBasket(ctx context.Context, lane string) (edge.CheckoutView, error)
	SetLines(ctx context.Context, lane, basketID string, lines []edge.Line) (edge.CheckoutView, error)
	ApplyOffer(ctx context.Context, lane, basketID, offerID string, on bool) (edge.CheckoutView, error)
	Redeem(ctx context.Context, lane, basketID, key string) (edge.Redeemed, error)
	CloseBasket(ctx context.Context, lane, basketID, key string, paid edge.Money) (edge.Redeemed, error)
}

var _ Checkout = (*edge.Engine)(nil)

const (
	// maxBody bounds a POS request body: 500 lines of about 200 bytes.
	maxBody = 256 << 10
	// posTimeout bounds how long a POS request waits for the engine.
	posTimeout = 5 * time.Second
	// laneCookie carries a terminal's token for its pages and streams.
	laneCookie = "redcarpet_lane_token"
)

// OpenRequest opens a basket: a typed member number, a scanned barcode, or
// neither (an anonymous basket).
type OpenRequest struct {
	MemberNumber string `json:"member_number,omitempty"`
	Barcode      string `json:"barcode,omitempty"`
}

// LinesRequest replaces a basket's lines.
type LinesRequest struct {
	BasketID string      `json:"basket_id,omitempty"`
	Lines    []edge.Line `json:"lines"`
}

// ApplyRequest applies or removes an offer.
type ApplyRequest struct {
	BasketID string `json:"basket_id,omitempty"`
	Applied  *bool  `json:"applied"`
}

// RedeemRequest redeems the applied offers; Idempotency-Key is required.
type RedeemRequest struct {
	BasketID string `json:"basket_id,omitempty"`
}

// CloseRequest closes a basket with the total the till took (absent: the
// basket's own total); Idempotency-Key is required.
type CloseRequest struct {
	BasketID string      `json:"basket_id,omitempty"`
	Total    *edge.Money `json:"total,omitempty"`
}

// DecodeRequest decodes a POS request body strictly into v: one JSON
// object, no unknown fields, nothing after it. An empty body is an empty
// object.
func DecodeRequest(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return fmt.Errorf("malformed JSON at byte %d: %v", se.Offset, err)
		case errors.As(err, &te):
			return fmt.Errorf("%s: expected %s, got JSON %s", te.Field, te.Type, te.Value)
		case errors.Is(err, edge.ErrBadAmount):
			return err
		case errors.Is(err, io.ErrUnexpectedEOF):
			return errors.New("malformed JSON: the body ends too early")
		}
		return fmt.Errorf("bad request body: %v", err)
	}
	if dec.More() {
		return errors.New("bad request body: more than one JSON value")
	}
	if l, ok := v.(*LinesRequest); ok {
		if l.Lines == nil {
			return errors.New("lines: required (an empty list empties the basket)")
		}
		if err := edge.ValidateLines(l.Lines); err != nil {
			return err
		}
	}
	if a, ok := v.(*ApplyRequest); ok && a.Applied == nil {
		return errors.New("applied: required (true or false)")
	}
	if c, ok := v.(*CloseRequest); ok && c.Total != nil && *c.Total < 0 {
		return errors.New("total: must not be negative")
	}
	if o, ok := v.(*OpenRequest); ok && o.MemberNumber != "" && o.Barcode != "" {
		return errors.New("give member_number or barcode, not both")
	}
	return nil
}

// apiError is the body of every POS error answer.
type apiError struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, apiError{msg})
}

// posStatus maps an engine error to an HTTP status.
func posStatus(err error) int {
	switch {
	case errors.Is(err, edge.ErrNoBasket), errors.Is(err, edge.ErrNoMember), errors.Is(err, edge.ErrNoOffer), errors.Is(err, edge.ErrUnknownLane):
		return http.StatusNotFound
	case errors.Is(err, edge.ErrOtherBasket), errors.Is(err, edge.ErrNotApplicable):
		return http.StatusConflict
	case errors.Is(err, edge.ErrKeyReused):
		return http.StatusUnprocessableEntity
	case errors.Is(err, edge.ErrNotRecorded), errors.Is(err, edge.ErrStopped), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// laneAuth checks the request's token for lane: the lane's own token or
// the admin token. It answers 401 (no or an unknown token) or 403 (another
// lane's token) itself and returns false.
func (s *Server) laneAuth(w http.ResponseWriter, r *http.Request, lane string) bool {
	tok := ""
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, t, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") { // the scheme is case-insensitive (RFC 9110)
			w.Header().Set("WWW-Authenticate", `Bearer realm="redcarpet"`)
			writeError(w, http.StatusUnauthorized, "Authorization must be \"Bearer <token>\"")
			return false
		}
		tok = strings.TrimSpace(t)
	} else if c, err := r.Cookie(laneCookie); err == nil {
		tok = c.Value
	}
	if tok == "" {
		s.authFailures.Add(1)
		w.Header().Set("WWW-Authenticate", `Bearer realm="redcarpet"`)
		writeError(w, http.StatusUnauthorized, "a token is required: the lane's terminal token or the admin token")
		return false
	}
	switch owner := s.tokenOwner(tok); {
	case owner == lane || owner == adminOwner:
		return true
	case owner != "":
		s.authFailures.Add(1)
		writeError(w, http.StatusForbidden, "this token belongs to another lane")
		return false
	}
	s.authFailures.Add(1)
	w.Header().Set("WWW-Authenticate", `Bearer realm="redcarpet", error="invalid_token"`)
	writeError(w, http.StatusUnauthorized, "unknown token")
	return false
}

// adminOwner is tokenOwner's answer for the admin token.
const adminOwner = "\x00admin"

// tokenOwner returns the lane whose token tok is, adminOwner, or "". Every
// token is compared in constant time.
func (s *Server) tokenOwner(tok string) string {
	owner := ""
	b := []byte(tok)
	for lane, t := range s.o.LaneTokens {
		if t != "" && subtle.ConstantTimeCompare(b, []byte(t)) == 1 {
			owner = lane
		}
	}
	if s.o.AdminToken != "" && subtle.ConstantTimeCompare(b, []byte(s.o.AdminToken)) == 1 {
		owner = adminOwner
	}
	return owner
}

// pos wraps a POS handler: the lane exists, the token is the lane's, the
// body is bounded and decoded into req (nil: no body expected).
func (s *Server) pos(req func() any, h func(ctx context.Context, w http.ResponseWriter, r *http.Request, lane string, body any)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		lane := r.PathValue("lane")
		if _, ok := s.lanes[lane]; !ok {
			writeError(w, http.StatusNotFound, fmt.Sprintf("unknown lane %q", lane))
			return
		}
		if !s.laneAuth(w, r, lane) {
			return
		}
		if s.o.Checkout == nil {
			writeError(w, http.StatusServiceUnavailable, "the checkout is not running")
			return
		}
		var body any
		if req != nil {
			if ct := r.Header.Get("Content-Type"); ct != "" && !isJSON(ct) {
				writeError(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json")
				return
			}
			raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
			if err != nil {
				var mb *http.MaxBytesError
				if errors.As(err, &mb) {
					writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body over %d bytes", maxBody))
					return
				}
				writeError(w, http.StatusBadRequest, "reading the request body: "+err.Error())
				return
			}
			body = req()
			if err := DecodeRequest(raw, body); err != nil {
				s.badRequests.Add(1)
				writeError(w, http.StatusBadRequest, err.Error())
				return
			}
		}
		ctx, cancel := context.WithTimeout(r.Context(), posTimeout)
		defer cancel()
		h(ctx, w, r, lane, body)
	}
}

// isJSON reports whether a Content-Type is application/json (any
// parameters, any case).
func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json"
}

// answer writes v, or err mapped to a status.
func answer[T any](w http.ResponseWriter, status int, v T, err error) {
	if err != nil {
		writeError(w, posStatus(err), err.Error())
		return
	}
	writeJSON(w, status, v)
}

func idempotencyKey(w http.ResponseWriter, r *http.Request) (string, bool) {
	k := r.Header.Get("Idempotency-Key")
	if k == "" || len(k) > 128 {
		writeError(w, http.StatusBadRequest, "header Idempotency-Key is required (1 to 128 characters): a retry with the same key never redeems twice")
		return "", false
	}
	return k, true
}

func (s *Server) posRoutes(mux *http.ServeMux) {
	const base = "/api/v1/lanes/{lane}/basket"
	mux.HandleFunc("POST "+base, s.pos(func() any { return &OpenRequest{} },
		func(ctx context.Context, w http.ResponseWriter, _ *http.Request, lane string, body any) {
			b := body.(*OpenRequest)
			v, err := s.o.Checkout.OpenBasket(ctx, lane, edge.Identify{Number: b.MemberNumber, Barcode: b.Barcode})
			answer(w, http.StatusCreated, v, err)
		}))
	mux.HandleFunc("GET "+base, s.pos(nil,
		func(ctx context.Context, w http.ResponseWriter, _ *http.Request, lane string, _ any) {
			v, err := s.o.Checkout.CurrentBasket(ctx, lane)
			answer(w, http.StatusOK, v, err)
		}))
	mux.HandleFunc("PUT "+base+"/lines", s.pos(func() any { return &LinesRequest{} },
		func(ctx context.Context, w http.ResponseWriter, _ *http.Request, lane string, body any) {
			b := body.(*LinesRequest)
			v, err := s.o.Checkout.SetLines(ctx, lane, b.BasketID, b.Lines)
			answer(w, http.StatusOK, v, err)
		}))
	mux.HandleFunc("POST "+base+"/offers/{offer}", s.pos(func() any { return &ApplyRequest{} },
		func(ctx context.Context, w http.ResponseWriter, r *http.Request, lane string, body any) {
			b := body.(*ApplyRequest)
			v, err := s.o.Checkout.ApplyOffer(ctx, lane, b.BasketID, r.PathValue("offer"), *b.Applied)
			answer(w, http.StatusOK, v, err)
		}))
	mux.HandleFunc("POST "+base+"/redeem", s.pos(func() any { return &RedeemRequest{} },
		func(ctx context.Context, w http.ResponseWriter, r *http.Request, lane string, body any) {
			key, ok := idempotencyKey(w, r)
			if !ok {
				return
			}
			v, err := s.o.Checkout.Redeem(ctx, lane, body.(*RedeemRequest).BasketID, key)
			answer(w, http.StatusOK, v, err)
		}))
	mux.HandleFunc("POST "+base+"/close", s.pos(func() any { return &CloseRequest{} },
		func(ctx context.Context, w http.ResponseWriter, r *http.Request, lane string, body any) {
			key, ok := idempotencyKey(w, r)
			if !ok {
				return
			}
			b := body.(*CloseRequest)
			paid := edge.Money(-1)
			if b.Total != nil {
				paid = *b.Total
			}
			v, err := s.o.Checkout.CloseBasket(ctx, lane, b.BasketID, key, paid)
			answer(w, http.StatusOK, v, err)
		}))
}
