// Package logs captures the child's stdout and stderr and turns each log
// event into one enriched record: framing (bounded lines) -> Python
// traceback joining -> parsing (JSON merge, level detection) -> enrichment
// (arrival time, stream, pod metadata, static fields) -> sinks (pysup's
// stdout as JSON or console text; the Fluent Forward shipper).
//
// # Field precedence
//
// A record's members come from three places. The app's own fields (the
// members of a JSON-object line) always win: pysup never overwrites them. When
// the app already has a member named like one pysup adds (time, stream,
// kubernetes, logger, exception_type, ...), the app's value is kept and
// pysup's is left out of that record (the Forward event time still carries
// the arrival time). pysup's own fields in turn win over the static fields
// of PYSUP_LOG_FIELDS, whose reserved names config rejects anyway. The app's
// level and message are not collisions: levelname/level/severity and
// message/msg/event are mapped onto them.
//
// # Backpressure
//
// One goroutine per stream reads its pipe and writes encoded records to
// pysup's stdout: a stdout that blocks (the container runtime) blocks the
// child, which is the only backpressure pysup applies. The Fluent shipper
// never blocks a reader: records go to a bounded memory buffer that spills
// to disk, and the oldest are dropped and counted when both are full.
package logs
