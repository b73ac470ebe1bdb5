// Package hlog is the one codec of agentstorm's interval log: the writer a
// run streams its intervals to, the decoder every reader goes through (the
// only parser of the format: tolerant of other tools' logs, strict for
// live streams), the merge of several logs into one, and the set that
// reads logs back into one summary.
//
// The file is HdrHistogram's interval log (format version 1.3, V2
// compressed histograms), readable by HistogramLogAnalyzer and the Java,
// JavaScript and Go HdrHistogram libraries. Values are microseconds. Each
// interval histogram is tagged
//
//	Tag=step=NAME;region=NAME              the raw latency of one step × region
//	Tag=step=NAME;region=NAME;figure=corrected   the closed model's corrected latency
//
// (names are %-escaped: anything but letters, digits, "_", ".", "~" and "-";
// the log format forbids commas and spaces in tags). Lines starting with
// "#" are comments to other readers; agentstorm keeps its metadata in them:
//
//	#agentstorm-meta {JSON Meta}                 once, after the header
//	#agentstorm-interval {JSON}                  before each interval's histograms:
//	    {"start":s,"end":s,"active":n,"connections":n,"hists":n,
//	     "cells":[[step,region,ok,bad_status,expect_failed,conn_refused,
//	               conn_reset,timeout,dns,tls,other_error,under,clamped,dropped],...]}
//	    (step and region are indexes into the metadata's lists; hists is
//	    the number of histogram lines that follow)
//	#agentstorm-end {JSON End}                   at the end: elapsed, failures, figures
//
// Times in the interval lines and comments are seconds since the #[BaseTime]
// header (the run's start, rounded down to a whole second). A log without
// an end line (a crash, or a stream still being written) still reads: its
// elapsed time is its last interval's end.
package hlog
