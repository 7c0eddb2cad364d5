package identity

import (
	"slices"
	"testing"
)

func TestLookup(t *testing.T) {
	cases := []struct {
		spec     string
		uid, gid uint32
		groups   []uint32
		home     string
	}{
		{"nobody", 65534, 65534, []uint32{65534}, "/nonexistent"},
		{"65534", 65534, 65534, []uint32{65534}, "/nonexistent"},
		{"nobody:0", 65534, 0, []uint32{0}, "/nonexistent"},
		{"4242", 4242, 4242, []uint32{4242}, "/"},
		{"4242:4343", 4242, 4343, []uint32{4343}, "/"},
	}
	for _, c := range cases {
		id, err := Lookup(c.spec)
		if err != nil {
			t.Errorf("%s: %v", c.spec, err)
			continue
		}
		cr := id.Credential
		if cr.Uid != c.uid || cr.Gid != c.gid || !slices.Equal(cr.Groups, c.groups) || id.Home != c.home {
			t.Errorf("%s: uid %d gid %d groups %v home %q; want %d %d %v %q", c.spec, cr.Uid, cr.Gid, cr.Groups, id.Home, c.uid, c.gid, c.groups, c.home)
		}
	}
	for _, bad := range []string{"no-such-user-here", "nobody:no-such-group", "-1"} {
		if _, err := Lookup(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
