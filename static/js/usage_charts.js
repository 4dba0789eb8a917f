// Usage charts: draws each <canvas data-chart-source="ID"> from the JSON island with that id
// (computed by the server; the table under it has the same figures for readers without
// JavaScript). Redraws after htmx swaps in a new dashboard. No inline script (CSP).
(function () {
  "use strict";

  function draw(canvas) {
    if (typeof window.Chart === "undefined") return;
    var island = document.getElementById(canvas.dataset.chartSource);
    if (!island) return;
    var data;
    try {
      data = JSON.parse(island.textContent);
    } catch (e) {
      return;
    }
    var previous = window.Chart.getChart(canvas);
    if (previous) previous.destroy();
    new window.Chart(canvas, {
      data: {
        labels: data.labels,
        datasets: [
          { type: "bar", label: "Cost (USD)", data: data.cost, yAxisID: "cost", order: 2 },
          { type: "line", label: "Requests", data: data.requests, yAxisID: "requests", order: 1, tension: 0.25 },
          { type: "line", label: "Errors", data: data.errors, yAxisID: "requests", order: 0, tension: 0.25 }
        ]
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          cost: { type: "linear", position: "left", beginAtZero: true, title: { display: true, text: "USD" } },
          requests: { type: "linear", position: "right", beginAtZero: true, grid: { drawOnChartArea: false }, title: { display: true, text: "Requests" } }
        }
      }
    });
    canvas.removeAttribute("aria-hidden");
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", "Cost and requests over the period; the figures are in the table below.");
  }

  function drawAll(root) {
    (root || document).querySelectorAll("canvas[data-chart-source]").forEach(draw);
  }

  document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  document.addEventListener("htmx:afterSettle", function (event) { drawAll(event.target); });
})();
