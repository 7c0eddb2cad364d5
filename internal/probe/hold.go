package probe

import "net/http"

// hold is a state in which pysup itself keeps the child from running:
// standby under leader election.
type hold struct {
	status, reason     string
	startupOK, readyOK bool
}

// Standby says the child is not running because this pod does not lead:
// liveness and startup pass (a standby pod is healthy and may wait
// forever), readiness is ready.
func (h *Health) Standby(reason string, ready bool) {
	h.setHold(hold{status: "standby", reason: reason, startupOK: true, readyOK: ready})
}

func (h *Health) setHold(w hold) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.endGenLocked()
	h.phase, h.hold = phaseHeld, w
	h.render()
}

// Election is who leads, shown in every probe body: role "leader" or
// "standby", leader the holder's identity.
func (h *Health) Election(lease, role, leader string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.election = &electionBody{Lease: lease, Role: role, Leader: leader}
	h.render()
}

type electionBody struct {
	Lease  string `json:"lease"`
	Role   string `json:"role"`
	Leader string `json:"leader,omitempty"`
}

// heldVerdict is verdict in phaseHeld.
func (h *Health) heldVerdict(role Role) (int, string, string) {
	w := h.hold
	ok := true
	switch role {
	case RoleStartup:
		ok = w.startupOK
	case RoleReady:
		ok = w.readyOK
	}
	if ok {
		return http.StatusOK, w.status, w.reason
	}
	return http.StatusServiceUnavailable, w.status, w.reason
}
