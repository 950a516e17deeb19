// The account page's sales history chart (ECharts): amount and gross margin by month, from the
// monthly aggregates the section renders as JSON. Loaded with the section (htmx runs its script tag).
(function drawSalesHistory() {
  const el = document.getElementById("sales-history-chart");
  const data = document.getElementById("sales-history-data");
  if (!el || !data || !window.echarts) return;
  const history = JSON.parse(data.textContent);
  el.style.height = "260px";
  const chart = window.echarts.init(el);
  // "Rendered" once drawn to the end, for tests and screenshots alike.
  chart.on("finished", () => { el.dataset.rendered = "true"; });
  chart.setOption({
    animationDuration: 300,
    tooltip: { trigger: "axis", renderMode: "richText" },
    legend: { data: [history.labels.amount, history.labels.margin] },
    grid: { left: 70, right: 20, top: 40, bottom: 30 },
    xAxis: { type: "category", data: history.months },
    yAxis: { type: "value" },
    series: [
      { name: history.labels.amount, type: "line", data: history.amount, color: "#b3261e" },
      { name: history.labels.margin, type: "line", data: history.margin, color: "#2f6f4e" },
    ],
  });
  window.addEventListener("resize", () => chart.resize());
})();
