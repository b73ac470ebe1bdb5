/* agentstorm HTML report: the charts, drawn with uPlot from the JSON in
   #chart-data (see report/charts.go for its shape). Over-time charts share
   the cursor and the zoom (drag to zoom on time, double-click to reset). */
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("chart-data").textContent);
  var root = document.getElementById("charts");
  var state = { step: 0, fig: D.figures.length - 1, log: true, xr: null };
  // A link may choose the view: #step=NAME&figure=raw|corrected&log=0.
  location.hash.replace(/^#/, "").split("&").forEach(function (kv) {
    var i = kv.indexOf("="), k = kv.slice(0, i), v = decodeURIComponent(kv.slice(i + 1));
    if (k === "step") D.steps.forEach(function (st, j) { if (st.name === v) state.step = j; });
    if (k === "figure") D.figures.forEach(function (f, j) { if (f === v || (v === "raw" && j === 0)) state.fig = j; });
    if (k === "log") state.log = v !== "0";
  });
  var charts = []; // {def, u}
  var STEPS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"];
  var RED = "#d62728", GREEN = "#2ca02c", BLUE = "#1f77b4", GRAY = "#777", ABANDON = "#c51b7d";
  var RIGHT = 64; // right margin: where the budget line is labelled, off the data
  var TOP = 18;   // top margin: where chaos events are marked

  function fmtMs(v) {
    if (v == null || isNaN(v)) return "–";
    if (v < 1) return (v * 1000).toFixed(0) + " µs";
    if (v < 10) return v.toFixed(2) + " ms";
    if (v < 100) return v.toFixed(1) + " ms";
    if (v < 1000) return v.toFixed(0) + " ms";
    return (v / 1000).toFixed(v < 10000 ? 2 : 1) + " s";
  }
  // fmtTick labels an axis: short, and empty where the axis filter left a
  // grid line without a label.
  function fmtTick(v) {
    if (v == null) return "";
    if (v < 1) return +(v * 1000).toPrecision(3) + " µs";
    if (v < 1000) return +v.toPrecision(3) + " ms";
    return +(v / 1000).toPrecision(3) + " s";
  }
  function fmtNum(v, digits) {
    if (v == null || isNaN(v)) return "–";
    return v.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: 0 });
  }
  function fmtRate(v) { return v == null ? "–" : fmtNum(v, v >= 100 ? 0 : 1) + "/s"; }
  function fmtT(s) {
    if (s == null) return "–";
    var neg = s < 0, a = Math.abs(Math.round(s)), m = Math.floor(a / 60), r = a % 60;
    return (neg ? "-" : "") + m + ":" + (r < 10 ? "0" : "") + r;
  }
  function positive(a) { return a.map(function (v) { return v != null && v > 0 ? v : null; }); }
  function width() { return Math.max(320, root.clientWidth); }

  // snapLog rounds v down to one digit (4.3 → 4, 0.26 → 0.2): a log axis
  // puts its grid lines at the minimum and steps of its decade from there,
  // so a round minimum gives round lines (and 1, 2, 5 to label).
  function snapLog(v) {
    var p = Math.pow(10, Math.floor(Math.log10(v)));
    return Math.floor(v / p + 1e-9) * p;
  }

  // latRange fits a latency scale to the data, and stretches it to the
  // budget only when that costs little room: otherwise the budget is
  // labelled off the chart's edge instead of squashing the data.
  function latRange(log) {
    return function (u, lo, hi) {
      var b = D.budget_ms;
      if (lo == null || hi == null) return log ? [b / 10, b * 2] : [0, b * 1.2];
      if (log) {
        lo = Math.max(lo, 0.001);
        if (b > hi && b <= hi * 3) hi = b;
        if (b < lo && b >= lo / 3) lo = b;
        return [snapLog(lo / 1.25), hi * 1.25];
      }
      if (b > hi && b <= hi * 1.5) hi = b;
      return [0, hi * 1.08];
    };
  }

  // budgetPlugin draws the budget as a dashed red line across the plot,
  // labelled in the right margin; when it is off the scale, an arrow in
  // the margin says which way.
  function budgetPlugin(scale) {
    return { hooks: { draw: function (u) {
      var ctx = u.ctx, b = D.budget_ms, sc = u.scales[scale], bb = u.bbox, px = devicePixelRatio || 1;
      var label = fmtMs(b);
      ctx.save();
      ctx.font = (11 * px) + "px system-ui, sans-serif";
      ctx.fillStyle = RED;
      ctx.strokeStyle = RED;
      ctx.lineWidth = 1.5 * px;
      if (b >= sc.min && b <= sc.max) {
        var p = u.valToPos(b, scale, true);
        ctx.setLineDash([6 * px, 4 * px]);
        ctx.beginPath();
        if (scale === "x") {
          ctx.moveTo(p, bb.top); ctx.lineTo(p, bb.top + bb.height);
          ctx.stroke();
          ctx.textAlign = "center"; ctx.textBaseline = "bottom";
          ctx.fillText(label, p, bb.top - 2 * px);
        } else {
          ctx.moveTo(bb.left, p); ctx.lineTo(bb.left + bb.width, p);
          ctx.stroke();
          ctx.textAlign = "left"; ctx.textBaseline = "middle";
          ctx.fillText(label, bb.left + bb.width + 6 * px, p);
        }
      } else {
        var above = b > sc.max;
        if (scale === "x") {
          ctx.textAlign = above ? "right" : "left"; ctx.textBaseline = "bottom";
          ctx.fillText(above ? label + " →" : "← " + label, above ? bb.left + bb.width : bb.left, bb.top - 2 * px);
        } else {
          ctx.textAlign = "left"; ctx.textBaseline = above ? "top" : "bottom";
          ctx.fillText((above ? "↑ " : "↓ ") + label, bb.left + bb.width + 6 * px, above ? bb.top : bb.top + bb.height);
        }
      }
      ctx.restore();
    } } };
  }

  // eventsPlugin marks the chaos events: a thin dotted line and a numbered
  // tag in the top margin (the list under the charts names them).
  function eventsPlugin() {
    return { hooks: { draw: function (u) {
      if (!D.events) return;
      var ctx = u.ctx, bb = u.bbox, px = devicePixelRatio || 1, sc = u.scales.x;
      ctx.save();
      ctx.font = "bold " + (10 * px) + "px system-ui, sans-serif";
      ctx.textAlign = "center"; ctx.textBaseline = "bottom";
      D.events.forEach(function (e, i) {
        if (e.t < sc.min || e.t > sc.max) return;
        var x = u.valToPos(e.t, "x", true), c = e.failed ? RED : "#555";
        ctx.strokeStyle = c; ctx.fillStyle = c; ctx.lineWidth = px;
        ctx.setLineDash([2 * px, 3 * px]);
        ctx.beginPath(); ctx.moveTo(x, bb.top); ctx.lineTo(x, bb.top + bb.height); ctx.stroke();
        ctx.fillText("▼" + (i + 1), x, bb.top - 1 * px);
      });
      ctx.restore();
    } } };
  }

  // logFilter labels 1, 2 and 5 of each decade on a log axis (only the
  // powers of ten when it spans more than three decades); the other
  // splits stay as grid lines.
  function logFilter(u, splits) {
    var lo = splits[0], hi = splits[splits.length - 1], marks = Math.log10(hi / lo) > 3.2 ? [1] : [1, 2, 5];
    return splits.map(function (v) {
      var m = v / Math.pow(10, Math.floor(Math.log10(v) + 1e-9));
      return marks.some(function (k) { return Math.abs(m - k) < 1e-6; }) ? v : null;
    });
  }
  function latAxis(log) {
    return { values: function (u, v) { return v.map(fmtTick); }, size: 64, scale: "y",
      grid: { stroke: log ? "rgba(0,0,0,0.06)" : "rgba(0,0,0,0.09)", width: 1 },
      filter: log ? logFilter : undefined };
  }
  var timeAxis = { incrs: [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200],
    values: function (u, v) { return v.map(fmtT); }, label: "time since start (m:ss)", labelSize: 20, labelFont: "12px system-ui, sans-serif" };
  function line(label, color, fmt, extra) {
    var s = { label: label, stroke: color, width: 1.6, value: function (u, v) { return fmt(v); }, spanGaps: false, points: { show: false } };
    for (var k in extra) s[k] = extra[k];
    return s;
  }

  // timeOpts are the options every over-time chart shares.
  function timeOpts(title, height, series, yScale, axes, plugins, bands) {
    return {
      title: title, width: width(), height: height, padding: [TOP, RIGHT, 0, 0],
      scales: { x: { time: false }, y: yScale },
      series: [{ label: "time", value: function (u, v) { return fmtT(v); } }].concat(series),
      axes: [timeAxis].concat(axes), bands: bands || [],
      cursor: { sync: { key: "time", setSeries: false }, drag: { x: true, y: false } },
      legend: { live: true },
      plugins: [eventsPlugin()].concat(plugins || []),
      hooks: { setScale: [syncZoom], ready: [showLast], setCursor: [showLast] }
    };
  }

  // showLast fills a time chart's legend with the last second in view
  // while the cursor is away, so the legend is never a row of dashes.
  function showLast(u) {
    if (u.cursor.idx != null || !D.t.length) return;
    u.setLegend({ idx: u.valToIdx(u.scales.x.max == null ? D.t[D.t.length - 1] : u.scales.x.max) }, false);
  }

  var defs = [];
  if (D.t.length > 0) {
    defs.push({ id: "latency", time: true, make: function () {
      var st = D.steps[state.step], L = st.lat[state.fig], log = state.log, f = log ? positive : function (a) { return a; };
      var fig = D.figures[state.fig], series = [
        line("p50", BLUE, fmtMs), line("p90", "#9467bd", fmtMs), line("p99", "#ff7f0e", fmtMs),
        line("max", GRAY, fmtMs, { width: 1, dash: [3, 3] })
      ], data = [D.t, f(L[0]), f(L[1]), f(L[2]), f(L[3])];
      if (D.figures.length > 1) {
        // The other figure's p99 beside the bands: the gap is what the
        // correction for coordinated omission adds.
        var other = 1 - state.fig;
        series.push(line(D.figures[other] + " p99", "#8c564b", fmtMs, { width: 1.2, dash: [6, 3] }));
        data.push(f(st.lat[other][2]));
      }
      return [timeOpts("Latency over time: " + st.name + " (" + fig + ", per second)", 340, series,
        { distr: log ? 3 : 1, log: 10, range: latRange(log) }, [latAxis(log)], [budgetPlugin("y")], [
        { series: [2, 1], fill: "rgba(31,119,180,0.16)" }, { series: [3, 2], fill: "rgba(255,127,14,0.14)" }
      ]), data];
    } });
    if (D.abandoned) {
      // Beside latency: the share of the sessions ending each second that
      // the agents abandoned (their patience ran out, or an error).
      defs.push({ id: "abandonment", time: true, make: function () {
        var pct = function (v) { return v == null || isNaN(v) ? "–" : fmtNum(v, 2) + " %"; };
        return [timeOpts("Abandoned sessions: share of the sessions ending each second", 220,
          [line("abandoned", ABANDON, pct, { fill: "rgba(197,27,125,0.12)", width: 2 })],
          { range: function (u, lo, hi) { return [0, Math.min(100, Math.max(hi || 0, 1) * 1.15)]; } },
          [{ values: function (u, v) { return v.map(function (x) { return fmtNum(x, 1) + " %"; }); }, size: 64 }]), [D.t, D.abandoned]];
      } });
    }
    if (D.steps.length > 2) {
      defs.push({ id: "p99-steps", time: true, make: function () {
        var log = state.log, f = log ? positive : function (a) { return a; }, data = [D.t], series = [];
        D.steps.forEach(function (st, i) {
          if (i === 0) return;
          series.push(line(st.name, STEPS[(i - 1) % STEPS.length], fmtMs));
          data.push(f(st.lat[state.fig][2]));
        });
        return [timeOpts("p99 by step over time (" + D.figures[state.fig] + ", per second)", 300, series,
          { distr: log ? 3 : 1, log: 10, range: latRange(log) }, [latAxis(log)], [budgetPlugin("y")]), data];
      } });
    }
    defs.push({ id: "throughput", time: true, make: function () {
      var st = D.steps[state.step], total = st.ok.map(function (v, i) { return v + st.ko[i]; });
      // The total is drawn wide and pale under OK, so both show when every answer is OK.
      var series = [line("requests/s", "rgba(31,119,180,0.45)", fmtRate, { width: 4 }), line("OK/s", GREEN, fmtRate, { width: 1.4 }),
        line("KO/s (errors)", RED, fmtRate, { fill: "rgba(214,39,40,0.18)" })];
      var data = [D.t, total, st.ok, st.ko];
      if (state.step === 0 && D.dropped) {
        series.push(line("dropped sessions/s", "#8c564b", fmtRate, { dash: [4, 3] }));
        data.push(D.dropped);
      }
      return [timeOpts("Requests and errors per second: " + st.name, 280, series,
        { range: function (u, lo, hi) { return [0, Math.max(hi, 1) * 1.08]; } },
        [{ values: function (u, v) { return v.map(function (x) { return fmtNum(x, 1); }); }, size: 70 }]), data];
    } });
    defs.push({ id: "agents", time: true, make: function () {
      return [timeOpts("Active agents", 200, [line("active agents", "#17becf", function (v) { return fmtNum(v, 0); }, { fill: "rgba(23,190,207,0.12)" })],
        { range: function (u, lo, hi) { return [0, Math.max(hi, 1) * 1.08]; } },
        [{ values: function (u, v) { return v.map(function (x) { return fmtNum(x, 0); }); }, size: 70 }]), [D.t, D.active]];
    } });
  }
  defs.push({ id: "distribution", time: false, make: function () {
    var st = D.steps[state.step], d = st.dist[state.fig], n = d.pct ? d.pct.length : 0;
    var edge = function (k) { return Math.pow(10, k / 10) / 1000; }; // ms
    var xs = [], lo = [], hi = [];
    for (var i = 0; i < n; i++) { lo.push(edge(d.k0 + i)); hi.push(edge(d.k0 + i + 1)); xs.push(Math.sqrt(lo[i] * hi[i])); }
    var bars = uPlot.paths.bars({ size: [0.92, Infinity], align: 0 });
    return [{
      title: "Response-time distribution: " + st.name + " (" + D.figures[state.fig] + ", whole run)",
      width: width(), height: 280, padding: [TOP, RIGHT, 0, 0],
      scales: { x: { time: false, distr: 3, log: 10, range: function (u, a, b) {
        var r = latRange(true)(u, n ? lo[0] : a, n ? hi[n - 1] : b); return [Math.max(r[0], n ? snapLog(lo[0] / 1.5) : r[0]), r[1]];
      } }, y: { range: function (u, a, b) { return [0, Math.max(b, 1) * 1.1]; } } },
      series: [{ label: "latency", value: function (u, v, si, i) { return i == null || i >= n ? "–" : fmtMs(lo[i]) + " – " + fmtMs(hi[i]); } },
        { label: "share of requests", fill: "rgba(31,119,180,0.55)", stroke: BLUE, width: 1, paths: bars, points: { show: false },
          value: function (u, v) { return v == null ? "–" : fmtNum(v, 2) + " %"; } }],
      axes: [{ values: function (u, v) { return v.map(fmtTick); }, label: "latency (log scale)", labelSize: 20, labelFont: "12px system-ui, sans-serif",
        filter: logFilter },
        { values: function (u, v) { return v.map(function (x) { return fmtNum(x, 1) + " %"; }); }, size: 60 }],
      cursor: { drag: { x: true, y: false } }, legend: { live: true },
      plugins: [budgetPlugin("x")]
    }, [xs, d.pct || []]];
  } });
  defs.push({ id: "spectrum", time: false, make: function () {
    var tables = [], series = [], labels = ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "99.9999%", "99.99999%"];
    D.steps.forEach(function (st, i) {
      var sp = st.spec[state.fig];
      if (!sp.x || !sp.x.length) return;
      tables.push([sp.x, sp.y]);
      series.push(line(st.name, i === 0 ? "#222" : STEPS[(i - 1) % STEPS.length], fmtMs, i === 0 ? { width: 2.4 } : {}));
    });
    var data = tables.length ? uPlot.join(tables) : [[], []];
    series.forEach(function (s) { s.spanGaps = true; });
    return [{
      title: "Latency by percentile (" + D.figures[state.fig] + ", whole run)", width: width(), height: 320, padding: [TOP, RIGHT, 0, 0],
      scales: { x: { time: false, range: function (u, a, b) { return [0, Math.max(b || 1, 1)]; } },
        y: { distr: 3, log: 10, range: latRange(true) } },
      series: [{ label: "percentile", value: function (u, v) { return v == null ? "–" : (100 * (1 - Math.pow(10, -v))).toPrecision(Math.max(2, Math.ceil(v) + 2)) + "%"; } }].concat(series),
      axes: [{ splits: function (u, i, a, b) { var s = []; for (var k = 0; k <= Math.floor(b + 1e-9); k++) s.push(k); return s; },
        values: function (u, v) { return v.map(function (k) { return labels[k] || ""; }); }, label: "percentile", labelSize: 20, labelFont: "12px system-ui, sans-serif" },
        latAxis(true)],
      cursor: { drag: { x: true, y: false } }, legend: { live: true },
      plugins: [budgetPlugin("y")]
    }, data];
  } });

  var syncing = false;
  function syncZoom(u, key) {
    if (key !== "x" || syncing) return;
    var mn = u.scales.x.min, mx = u.scales.x.max, full = D.t.length && mn <= D.t[0] && mx >= D.t[D.t.length - 1];
    state.xr = full ? null : [mn, mx];
    syncing = true;
    charts.forEach(function (c) {
      if (c.u !== u && c.def.time && (c.u.scales.x.min !== mn || c.u.scales.x.max !== mx)) c.u.setScale("x", { min: mn, max: mx });
    });
    syncing = false;
  }

  function build(c) {
    if (c.u) c.u.destroy();
    var m = c.def.make();
    c.u = new uPlot(m[0], m[1], c.el);
    if (c.def.time && state.xr) c.u.setScale("x", { min: state.xr[0], max: state.xr[1] });
  }
  defs.forEach(function (def) {
    var el = document.createElement("div");
    el.className = "chart";
    el.id = "chart-" + def.id;
    root.appendChild(el);
    charts.push({ def: def, el: el, u: null });
  });
  charts.forEach(build);

  // Controls: the step, the latency figure, the scale, the zoom.
  var stepSel = document.getElementById("ctl-step");
  D.steps.forEach(function (st, i) { var o = document.createElement("option"); o.value = i; o.textContent = st.name; stepSel.appendChild(o); });
  stepSel.value = state.step;
  stepSel.addEventListener("change", function () { state.step = +stepSel.value; charts.forEach(build); });
  var figSel = document.getElementById("ctl-figure");
  D.figures.forEach(function (f, i) { var o = document.createElement("option"); o.value = i; o.textContent = f; figSel.appendChild(o); });
  figSel.value = state.fig;
  figSel.disabled = D.figures.length < 2;
  figSel.addEventListener("change", function () { state.fig = +figSel.value; charts.forEach(build); });
  var logBox = document.getElementById("ctl-log");
  logBox.checked = state.log;
  logBox.addEventListener("change", function () { state.log = logBox.checked; charts.forEach(build); });
  document.getElementById("ctl-reset").addEventListener("click", function () {
    state.xr = null;
    charts.forEach(build);
  });
  var resizeTimer = 0;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () { charts.forEach(function (c) { c.u.setSize({ width: width(), height: c.u.height }); }); }, 100);
  });

  // For a look from the console (and the report test): the charts and the view.
  window.agentstormCharts = { charts: charts, state: state };

  // data-charts-rendered counts the charts whose canvas has a size and
  // something drawn on it (the report test reads it in headless Chromium).
  Promise.resolve().then(function () {
    var n = 0;
    charts.forEach(function (c) {
      var cv = c.el.querySelector("canvas");
      if (!cv || cv.width === 0 || cv.height === 0) return;
      var px = cv.getContext("2d").getImageData(0, 0, cv.width, cv.height).data, inked = 0;
      for (var i = 3; i < px.length; i += 4 * 7) if (px[i] > 0) inked++;
      if (inked > 50) n++;
    });
    document.documentElement.setAttribute("data-charts-rendered", String(n));
  });
})();
