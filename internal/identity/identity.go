// Package identity resolves PYSUP_USER into the credentials the child runs
// with.
package identity

import (
	"fmt"
	"os/user"
	"strconv"
	"strings"
	"syscall"
)

// Identity is who the child runs as.
type Identity struct {
	Credential *syscall.Credential
	// Home is the user's home directory, for HOME; empty when unknown.
	Home string
	// Name is the user name, for USER; empty for a bare uid.
	Name string
}

// Lookup resolves PYSUP_USER: a name, a uid, or uid:gid / name:group.
// A name takes its primary group and supplementary groups from
// /etc/passwd and /etc/group, as gosu and su-exec do. A bare uid unknown to
// /etc/passwd runs with gid = uid unless a gid is given: never root's group
// by accident.
func Lookup(spec string) (*Identity, error) {
	userPart, groupPart, hasGroup := strings.Cut(spec, ":")
	id := &Identity{Credential: &syscall.Credential{}}
	u, err := user.Lookup(userPart)
	if err != nil {
		if _, numErr := strconv.Atoi(userPart); numErr == nil {
			u, err = user.LookupId(userPart)
		}
	}
	switch {
	case err == nil:
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		id.Credential.Uid, id.Credential.Gid = uint32(uid), uint32(gid)
		id.Home, id.Name = u.HomeDir, u.Username
		if gids, err := u.GroupIds(); err == nil {
			for _, g := range gids {
				if n, err := strconv.ParseUint(g, 10, 32); err == nil {
					id.Credential.Groups = append(id.Credential.Groups, uint32(n))
				}
			}
		}
	default:
		uid, numErr := strconv.ParseUint(userPart, 10, 32)
		if numErr != nil {
			return nil, fmt.Errorf("user %q: %w", userPart, err)
		}
		id.Credential.Uid, id.Credential.Gid = uint32(uid), uint32(uid)
		id.Home = "/" // as gosu does: never the root HOME pysup has
	}
	if hasGroup {
		gid, err := strconv.ParseUint(groupPart, 10, 32)
		if err != nil {
			g, lerr := user.LookupGroup(groupPart)
			if lerr != nil {
				return nil, fmt.Errorf("group %q: %w", groupPart, lerr)
			}
			gid, _ = strconv.ParseUint(g.Gid, 10, 32)
		}
		// As runc does: the given group replaces the passwd primary
		// group, which stays only if /etc/group lists the user in it.
		primary := id.Credential.Gid
		id.Credential.Gid = uint32(gid)
		groups := []uint32{uint32(gid)}
		for _, g := range id.Credential.Groups {
			if g != primary && g != uint32(gid) {
				groups = append(groups, g)
			}
		}
		id.Credential.Groups = groups
	}
	if len(id.Credential.Groups) == 0 {
		id.Credential.Groups = []uint32{id.Credential.Gid}
	}
	return id, nil
}

// UnmarshalText lets configuration resolve the user while it is parsed, so
// an unknown user is reported with every other problem.
func (id *Identity) UnmarshalText(b []byte) error {
	v, err := Lookup(string(b))
	if err != nil {
		return err
	}
	*id = *v
	return nil
}
