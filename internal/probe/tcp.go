package probe

import (
	"context"
	"net"
)

// tcpProbe passes when a TCP connection to the spec's address opens, as
// the kubelet's tcpSocket probe does.
func tcpProbe(s Spec) probeFunc {
	return func(ctx context.Context) error {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", s.Addr)
		if err != nil {
			return err
		}
		return conn.Close()
	}
}
