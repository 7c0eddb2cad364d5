// Package metrics is pysup's /metrics: its own registry (never the global
// one), the app's metrics endpoints scraped on each request, the
// prometheus_client multiprocess directory aggregated natively
// (subpackage multiproc), and shipping of the same exposition to a
// Pushgateway and to remote write (subpackage push).
//
// One exposition, merged in this order of precedence: pysup's own
// registry, then the multiprocess directory, then each scraped URL in the
// order configured. A family or series that collides with an earlier one
// (same name with another type, same label set, or a name a histogram or
// summary already produces) is dropped from the later source and counted
// in pysup_scrape_conflicts_total: a collision never turns the response
// into an error.
//
// Naming. pysup's own Go and process collectors are pysup_go_* and
// pysup_process_*, so they never collide with the app's process_*. The
// app's process tree (the child and all its descendants, summed) is
// exported as process_* when PROMETHEUS_MULTIPROC_DIR is set: in
// multiprocess mode prometheus_client cannot export process metrics, so
// pysup fills exactly that gap under the names dashboards expect. Without
// a multiprocess directory the app exports its own process_* (for its
// one process), so the tree's are pysup_app_process_* instead.
package metrics
