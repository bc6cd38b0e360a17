// Draws the dashboard's charts with uPlot (vendored, see vendor/README.md). Each chart is an
// element with `data-chart`: {"labels": [...], "values": [...], "x": "...", "y": "..."}, one bar
// per label. The exact figures are in a table beside every chart, which is what assistive
// technology and tests read; the chart is the picture of it.
//
// When every chart is drawn, <html data-charts="drawn">; a script error or a refused style
// or script on the way makes it "failed", with the reasons in data-chart-errors.
(() => {
  "use strict";
  const errors = [];
  window.addEventListener("error", (e) => errors.push(String(e.message)));
  document.addEventListener("securitypolicyviolation", (e) =>
    errors.push(`refused by the page's policy: ${e.violatedDirective} ${e.blockedURI}`),
  );

  const integer = (v) => Number.isInteger(v);
  const countSteps = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 50000];
  const labelSteps = [1, 2, 3, 4, 6, 7, 12, 14, 24, 28, 30, 60, 90, 120, 180, 366];

  function colour(name, fallback) {
    const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  function draw(box) {
    const spec = JSON.parse(box.dataset.chart);
    const labels = spec.labels;
    const xs = labels.map((_, i) => i);
    const height = Number(box.dataset.height || 180);
    const ink = colour("--muted", "#4f5863");
    const line = colour("--line", "#c9d0d8");
    const accent = colour("--accent", "#1f5fbf");
    const size = () => ({ width: Math.max(box.clientWidth, 160), height });
    const options = {
      ...size(),
      legend: { show: true, live: true },
      cursor: { points: { show: false }, drag: { x: false, y: false } },
      scales: {
        x: { time: false, range: () => [-0.5, labels.length - 0.5] },
        y: { range: (_u, _min, max) => [0, Math.max(1, max) * 1.1] },
      },
      axes: [
        {
          stroke: ink,
          grid: { show: false },
          ticks: { stroke: line },
          incrs: labelSteps,
          space: Number(box.dataset.space || 56),
          values: (_u, splits) => splits.map((v) => (integer(v) && v in labels ? labels[v] : "")),
        },
        {
          stroke: ink,
          grid: { stroke: line, width: 1 },
          ticks: { stroke: line },
          incrs: countSteps,
          size: 44,
          values: (_u, splits) => splits.map((v) => (integer(v) ? String(v) : "")),
        },
      ],
      series: [
        { label: spec.x, value: (_u, v) => (v == null || !(v in labels) ? "—" : labels[v]) },
        {
          label: spec.y,
          stroke: accent,
          fill: accent,
          width: 0,
          points: { show: false },
          paths: uPlot.paths.bars({ size: [0.7, 48], gap: 1 }),
        },
      ],
    };
    const chart = new uPlot(options, [xs, spec.values], box);
    let width = box.clientWidth;
    new ResizeObserver(() => {
      if (box.clientWidth !== width) {
        width = box.clientWidth;
        chart.setSize(size());
      }
    }).observe(box);
    box.dataset.drawn = "true";
  }

  function drawAll() {
    for (const box of document.querySelectorAll("[data-chart]")) {
      try {
        draw(box);
      } catch (e) {
        errors.push(String(e && e.message ? e.message : e));
      }
    }
    // Let a refused style or script report itself before saying how it went.
    requestAnimationFrame(() => {
      const root = document.documentElement;
      root.dataset.charts = errors.length ? "failed" : "drawn";
      if (errors.length) root.dataset.chartErrors = errors.join("; ");
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
})();
