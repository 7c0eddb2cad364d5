// Package zmqlb is pysup's ZeroMQ balancer: a local ROUTER-like frontend the
// app's REQ or DEALER sockets connect to, one DEALER-like connection per
// backend endpoint, and a balancer that sends each request to the ready
// endpoint with the fewest requests in flight and routes the reply back to
// the connection that asked.
//
// It speaks ZMTP 3 through go-zeromq/zmq4's connection layer (zmq4.Open for
// the greeting and NULL handshake, Conn.RecvMsg for framing) but manages the
// connections itself rather than using zmq4's sockets, because those sockets
// send every message to every dialled peer, have no receive timeout, block
// all peers behind one slow peer on ROUTER sends and reconnect on their own
// terms. Owning the net.Conn gives deadlines on every read and write, a
// bounded queue per peer, our own reconnect loop with backoff, and a guard
// that enforces the maximum message size before zmq4 allocates a frame.
//
// The wire envelope is the one zmq_proxy uses between a ROUTER and a DEALER:
// a request from the app, [frames...], goes to a backend as [id, frames...];
// a REP server echoes the envelope, so the reply [id, reply...] comes back
// and [reply...] goes to the app connection that sent the request. With a
// REQ app the frames start with the empty delimiter, which REP needs.
package zmqlb
