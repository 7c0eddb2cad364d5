// Package probe answers the kubelet's probes for the supervised Python app.
//
// A Health holds the state the answers are made of: the child's lifecycle
// (driven by the supervisor through ChildStarted, Draining and ChildExited),
// the results of background check loops (tcp, http, zmq, exec and notify
// checks, one file each, all with the probeFunc signature) and what the child
// said over sd_notify. The HTTP handler only reads that state, rendered once
// per change by the first request after it, so a probe request never waits
// on the app.
//
// Semantics, as the kubelet's startupProbe gates the other two:
//   - /startupz is 200 once every startup check has passed; that latches
//     until the child is started again.
//   - /readyz is 503 while starting, while any ready check fails, and from
//     the first moment of draining.
//   - /livez is 200 while starting and while draining; otherwise 503 only
//     when the child is gone or a live check has failed its threshold, never
//     because of an outage the ready checks already report.
package probe
