package pgtest

import "testing"

func TestWithSearchPath(t *testing.T) {
	tests := []struct{ dsn, want string }{
		{"postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "postgres://postgres@127.0.0.1:5432/test?search_path=s&sslmode=disable"},
		{"postgresql://u:p@h/db", "postgresql://u:p@h/db?search_path=s"},
		{"postgres://h/db?search_path=other", "postgres://h/db?search_path=s"},
		{"host=127.0.0.1 dbname=test", "host=127.0.0.1 dbname=test search_path=s"},
	}
	for _, tt := range tests {
		t.Run(tt.dsn, func(t *testing.T) {
			if got := withSearchPath(t, tt.dsn, "s"); got != tt.want {
				t.Errorf("withSearchPath(%q) = %q, want %q", tt.dsn, got, tt.want)
			}
		})
	}
}
