/* Draws the dashboard's charts from the JSON the page embeds (no inline
   script: the CSP allows scripts from 'self' only). Amounts are minor units;
   the tables below each chart carry the same numbers. */
(function () {
  "use strict";
  var node = document.getElementById("analytics-data");
  if (!node || typeof Chart === "undefined") { return; }
  var data = JSON.parse(node.textContent);
  function major(values) { return values.map(function (v) { return v / data.scale; }); }
  function draw(id, config) {
    var canvas = document.getElementById(id);
    if (canvas) { new Chart(canvas, config); }
  }
  draw("chart-mrr", {
    type: "line",
    data: { labels: data.days, datasets: [{ label: "MRR", data: major(data.mrr) }] }
  });
  var kinds = ["new", "reactivation", "expansion", "contraction", "churn"];
  draw("chart-movements", {
    type: "bar",
    data: {
      labels: data.movement_days,
      datasets: kinds.map(function (k) { return { label: k, data: major(data.movements[k]) }; })
    },
    options: { scales: { x: { stacked: true }, y: { stacked: true } } }
  });
  draw("chart-churn", {
    type: "line",
    data: { labels: data.days, datasets: [{ label: "Churned customers", data: data.churned }] }
  });
  draw("chart-gmv", {
    data: {
      labels: data.days,
      datasets: [
        { type: "bar", label: "GMV", data: major(data.gmv), yAxisID: "y" },
        { type: "line", label: "Paid orders", data: data.orders, yAxisID: "y1" }
      ]
    },
    options: { scales: { y1: { position: "right", grid: { drawOnChartArea: false } } } }
  });
  draw("chart-plans", {
    type: "doughnut",
    data: { labels: data.plans, datasets: [{ label: "MRR", data: major(data.plan_mrr) }] }
  });
})();
