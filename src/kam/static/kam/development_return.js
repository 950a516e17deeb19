// The account page's cost and return chart (ECharts, PIPE-5): development cost and gross margin by year as
// bars, the cumulative return as a line, from the JSON the section renders. Loaded with the section (htmx
// runs its script tag); no inline script (CSP).
(function drawDevelopmentReturn() {
  const el = document.getElementById("development-return-chart");
  const data = document.getElementById("development-return-data");
  if (!el || !data || !window.echarts) return;
  const figures = JSON.parse(data.textContent);
  el.style.height = "260px";
  const chart = window.echarts.init(el);
  chart.on("finished", () => { el.dataset.rendered = "true"; });
  chart.setOption({
    animationDuration: 300,
    tooltip: { trigger: "axis", renderMode: "richText" },
    legend: { data: [figures.labels.cost, figures.labels.margin, figures.labels.cumulative] },
    grid: { left: 70, right: 20, top: 40, bottom: 30 },
    xAxis: { type: "category", data: figures.years },
    yAxis: { type: "value" },
    series: [
      { name: figures.labels.cost, type: "bar", data: figures.cost, color: "#b3261e" },
      { name: figures.labels.margin, type: "bar", data: figures.margin, color: "#2f6f4e" },
      { name: figures.labels.cumulative, type: "line", data: figures.cumulative, color: "#1a56a8" },
    ],
  });
  window.addEventListener("resize", () => chart.resize());
})();
