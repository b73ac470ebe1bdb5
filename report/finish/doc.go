// Package finish ends a run, once, the same way for every command that
// summarises one (`agentstorm run`, `report`, `k6 ingest`): it judges the
// budgets on the totals, marks the budget that aborted the run, writes the
// text summary and every output, and decides how the run ended and so its
// exit code.
//
// Exit codes: 0 the run is ok and every budget met; 1 the run failed (or an
// output could not be written); 2 bad usage, profile or budget; 99 a budget
// missed (as k6's thresholds).
package finish
