// Package deploy holds the build script, the nfpm configuration, the
// maintainer scripts, the udev rules and the systemd unit of the redcarpet
// .deb; its test builds the packages and installs one for real.
package deploy

import (
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// maxARM64Size is the size target of the arm64 redcarpet binary (25 MB).
const maxARM64Size = 25_000_000

// TestPackage builds the binaries and .debs of every architecture with
// deploy/build, checks their contents, then installs the amd64 package on this
// machine with dpkg, upgrades it over a modified configuration, removes it and
// purges it. It changes the machine (a package, a system user, /etc, /var/lib),
// so it runs only with REDCARPET_TEST_PACKAGE=1, as root, on a Debian machine
// without a redcarpet package of its own; with the variable set, a missing
// tool fails the test. Whatever happens, the cleanup purges the package and
// deletes the user if the test created it.
func TestPackage(t *testing.T) {
	if os.Getenv("REDCARPET_TEST_PACKAGE") != "1" {
		t.Skip("REDCARPET_TEST_PACKAGE=1 not set: the package test installs a .deb on this machine (root, Debian, dpkg, systemd-analyze, acl)")
	}
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Fatalf("the package test installs the amd64 package: needs linux/amd64, not %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	if os.Geteuid() != 0 {
		t.Fatal("the package test runs dpkg -i: run it as root")
	}
	for _, tool := range []string{"dpkg", "dpkg-deb", "dpkg-query", "systemd-analyze", "setfacl", "git"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found (package acl provides setfacl): %v", tool, err)
		}
	}
	if out, err := exec.Command("dpkg-query", "-W", "-f=${db:Status-Abbrev}", "redcarpet").Output(); err == nil && strings.TrimSpace(string(out)) != "" && !strings.HasPrefix(string(out), "un") {
		t.Fatalf("a redcarpet package is already known to dpkg (%s): the test would replace it", strings.TrimSpace(string(out)))
	}

	dir := t.TempDir()
	v1, v2 := filepath.Join(dir, "v1"), filepath.Join(dir, "v2")
	start := time.Now()
	build(t, v1, "v1.0.0", "amd64 arm64 armhf")
	build(t, v2, "v1.0.1", "amd64")
	t.Logf("deploy/build (3 architectures, then amd64 again): %s", time.Since(start).Round(time.Second))

	t.Run("contents", func(t *testing.T) {
		for _, c := range []struct {
			arch    string
			machine elf.Machine
		}{
			{"amd64", elf.EM_X86_64},
			{"arm64", elf.EM_AARCH64},
			{"armhf", elf.EM_ARM},
		} {
			t.Run(c.arch, func(t *testing.T) {
				deb := filepath.Join(v1, "redcarpet_1.0.0_"+c.arch+".deb")
				fi, err := os.Stat(deb)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("%s: %d bytes", filepath.Base(deb), fi.Size())
				for field, want := range map[string]string{"Package": "redcarpet", "Architecture": c.arch, "Version": "1.0.0"} {
					if got := strings.TrimSpace(run(t, "dpkg-deb", "-f", deb, field)); got != want {
						t.Errorf("%s: %s = %q, want %q", deb, field, got, want)
					}
				}
				if got := run(t, "dpkg-deb", "-f", deb, "Depends"); !strings.Contains(got, "acl") {
					t.Errorf("Depends = %q, want acl (setfacl of the udev rules)", got)
				}
				list := run(t, "dpkg-deb", "-c", deb)
				for _, f := range []string{"./usr/bin/redcarpet", "./usr/bin/redcarpet-hq", "./etc/redcarpet/redcarpet.toml",
					"./lib/systemd/system/redcarpet.service", "./lib/udev/rules.d/60-redcarpet.rules"} {
					if !containsPath(list, f) {
						t.Errorf("%s does not contain %s:\n%s", deb, f, list)
					}
				}
				if strings.Contains(list, "./var/lib/redcarpet") {
					t.Errorf("%s ships /var/lib/redcarpet: dpkg -r would delete the data", deb)
				}
				if got := run(t, "dpkg-deb", "-I", deb, "conffiles"); strings.TrimSpace(got) != "/etc/redcarpet/redcarpet.toml" {
					t.Errorf("conffiles = %q, want /etc/redcarpet/redcarpet.toml", got)
				}
				info := run(t, "dpkg-deb", "-I", deb)
				for _, s := range []string{"postinst", "prerm", "postrm"} {
					if !strings.Contains(info, s) {
						t.Errorf("%s has no %s script:\n%s", deb, s, info)
					}
				}
				x := filepath.Join(t.TempDir(), "x")
				run(t, "dpkg-deb", "-x", deb, x)
				for _, bin := range []string{"redcarpet", "redcarpet-hq"} {
					checkStatic(t, filepath.Join(x, "usr/bin", bin), c.machine)
				}
			})
		}
		for _, arch := range []string{"amd64", "arm64", "armhf"} {
			for _, bin := range []string{"redcarpet", "redcarpet-hq"} {
				fi, err := os.Stat(filepath.Join(v1, "linux-"+arch, bin))
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("linux-%s/%s: %d bytes (%.1f MB)", arch, bin, fi.Size(), float64(fi.Size())/1e6)
				if arch == "arm64" && bin == "redcarpet" && fi.Size() > maxARM64Size {
					t.Errorf("arm64 redcarpet is %d bytes, above the %d-byte target", fi.Size(), maxARM64Size)
				}
			}
		}
	})

	t.Run("install", func(t *testing.T) {
		_, userErr := exec.Command("getent", "passwd", "redcarpet").Output()
		hadUser := userErr == nil
		t.Cleanup(func() {
			if out, err := exec.Command("dpkg", "--purge", "redcarpet").CombinedOutput(); err != nil {
				t.Logf("cleanup: dpkg --purge: %v\n%s", err, out)
			}
			os.RemoveAll("/var/lib/redcarpet")
			os.RemoveAll("/etc/redcarpet")
			if !hadUser {
				exec.Command("userdel", "redcarpet").Run()
				exec.Command("groupdel", "redcarpet").Run()
			}
		})

		// First install.
		run(t, "dpkg", "-i", filepath.Join(v1, "redcarpet_1.0.0_amd64.deb"))
		if got := run(t, "/usr/bin/redcarpet", "version"); !strings.Contains(got, "v1.0.0") {
			t.Errorf("redcarpet version = %q, want v1.0.0", got)
		}
		if got := run(t, "/usr/bin/redcarpet-hq", "version"); !strings.Contains(got, "v1.0.0") {
			t.Errorf("redcarpet-hq version = %q, want v1.0.0", got)
		}
		checkMode(t, "/usr/bin/redcarpet", 0o755, "root", "root")
		pw := strings.Split(strings.TrimSpace(run(t, "getent", "passwd", "redcarpet")), ":")
		if len(pw) != 7 || pw[6] != "/usr/sbin/nologin" || pw[5] != "/var/lib/redcarpet" {
			t.Errorf("user redcarpet = %q, want home /var/lib/redcarpet and shell /usr/sbin/nologin", pw)
		}
		groups := strings.Fields(run(t, "id", "-nG", "redcarpet"))
		for _, g := range []string{"redcarpet", "dialout", "input", "gpio", "spi"} {
			if exec.Command("getent", "group", g).Run() != nil {
				continue // this machine has no such group
			}
			if !slices.Contains(groups, g) {
				t.Errorf("redcarpet is not in group %s (groups %v)", g, groups)
			}
		}
		checkMode(t, "/etc/redcarpet", 0o750|os.ModeDir, "root", "redcarpet")
		checkMode(t, "/etc/redcarpet/redcarpet.toml", 0o640, "root", "redcarpet")
		checkMode(t, "/var/lib/redcarpet", 0o750|os.ModeDir, "redcarpet", "redcarpet")
		if _, err := os.Lstat("/etc/systemd/system/multi-user.target.wants/redcarpet.service"); err != nil {
			t.Errorf("redcarpet.service not enabled: %v", err)
		}
		if _, err := os.Stat("/lib/udev/rules.d/60-redcarpet.rules"); err != nil {
			t.Error(err)
		}
		run(t, "systemd-analyze", "verify", "/lib/systemd/system/redcarpet.service")

		// Upgrade over a modified configuration and some data.
		const edit = "\n# edited by the installer\n"
		appendFile(t, "/etc/redcarpet/redcarpet.toml", edit)
		if err := os.WriteFile("/var/lib/redcarpet/marker", []byte("data"), 0o600); err != nil {
			t.Fatal(err)
		}
		run(t, "dpkg", "-i", filepath.Join(v2, "redcarpet_1.0.1_amd64.deb"))
		if got := strings.TrimSpace(run(t, "dpkg-query", "-W", "-f=${Version}", "redcarpet")); got != "1.0.1" {
			t.Errorf("installed version after upgrade = %q, want 1.0.1", got)
		}
		if got := run(t, "/usr/bin/redcarpet", "version"); !strings.Contains(got, "v1.0.1") {
			t.Errorf("redcarpet version after upgrade = %q, want v1.0.1", got)
		}
		if b, err := os.ReadFile("/etc/redcarpet/redcarpet.toml"); err != nil || !strings.HasSuffix(string(b), edit) {
			t.Errorf("the upgrade replaced the edited configuration (err %v)", err)
		}
		checkMode(t, "/etc/redcarpet/redcarpet.toml", 0o640, "root", "redcarpet")

		// Remove: programs gone, configuration and data kept.
		run(t, "dpkg", "-r", "redcarpet")
		for _, f := range []string{"/usr/bin/redcarpet", "/usr/bin/redcarpet-hq", "/lib/systemd/system/redcarpet.service",
			"/lib/udev/rules.d/60-redcarpet.rules", "/etc/systemd/system/multi-user.target.wants/redcarpet.service"} {
			if _, err := os.Lstat(f); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("after dpkg -r, %s: %v, want it gone", f, err)
			}
		}
		for _, f := range []string{"/etc/redcarpet/redcarpet.toml", "/var/lib/redcarpet/marker"} {
			if _, err := os.Stat(f); err != nil {
				t.Errorf("after dpkg -r, %s must be kept: %v", f, err)
			}
		}

		// Purge: configuration and data gone.
		run(t, "dpkg", "-P", "redcarpet")
		for _, f := range []string{"/etc/redcarpet", "/var/lib/redcarpet"} {
			if _, err := os.Lstat(f); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("after dpkg -P, %s: %v, want it gone", f, err)
			}
		}
	})
}

// build runs deploy/build for arches with the given version into out.
func build(t *testing.T, out, version, arches string) {
	t.Helper()
	cmd := exec.Command("./build")
	cmd.Env = append(os.Environ(), "OUT="+out, "VERSION="+version, "ARCHES="+arches)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("deploy/build %s %s: %v\n%s", version, arches, err, b)
	}
}

// run runs a command and returns its standard output; a failure is fatal.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// checkStatic fails unless path is a static ELF executable for machine.
func checkStatic(t *testing.T, path string, machine elf.Machine) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != machine {
		t.Errorf("%s: machine %v, want %v", path, f.Machine, machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s is dynamically linked", path)
		}
	}
}

// checkMode fails unless path has the mode, owner and group.
func checkMode(t *testing.T, path string, mode os.FileMode, owner, group string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Error(err)
		return
	}
	if fi.Mode()&(os.ModeType|os.ModePerm) != mode {
		t.Errorf("%s: mode %v, want %v", path, fi.Mode(), mode)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if u := idName(t, "passwd", st.Uid); u != owner {
		t.Errorf("%s: owner %s, want %s", path, u, owner)
	}
	if g := idName(t, "group", st.Gid); g != group {
		t.Errorf("%s: group %s, want %s", path, g, group)
	}
}

// idName looks up a user or group id in the passwd or group database.
func idName(t *testing.T, db string, id uint32) string {
	t.Helper()
	out, err := exec.Command("getent", db, strconv.FormatUint(uint64(id), 10)).Output()
	if err != nil {
		return strconv.FormatUint(uint64(id), 10)
	}
	name, _, _ := strings.Cut(string(out), ":")
	return name
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// containsPath reports whether a dpkg-deb -c listing names path.
func containsPath(list, path string) bool {
	for _, line := range strings.Split(list, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && f[len(f)-1] == path {
			return true
		}
	}
	return false
}
