// The forecast page's chart (ECharts): quota and actual as bars; weighted, commit, best case and the
// statistical forecast as lines, by month. Figures come from the page's JSON (json_script), money as strings.
(function drawForecast() {
  function draw() {
    const el = document.getElementById("forecast-chart");
    const data = document.getElementById("forecast-data");
    if (!el || !data || !window.echarts) return;
    const f = JSON.parse(data.textContent);
    const number = (values) => values.map((v) => (v === null ? null : Number(v)));
    el.style.height = "320px";
    const chart = window.echarts.init(el);
    chart.on("finished", () => { el.dataset.rendered = "true"; });
    const bars = ["quota", "actual"];
    const lines = ["weighted", "commit", "best_case", "statistical"];
    const colors = {
      quota: "#c9c9c9", actual: "#b3261e", weighted: "#1f5fa8", commit: "#2f6f4e",
      best_case: "#8a6d1f", statistical: "#6b3fa0",
    };
    chart.setOption({
      animationDuration: 300,
      tooltip: { trigger: "axis", renderMode: "richText" },
      legend: { data: [...bars, ...lines].map((k) => f.labels[k]) },
      grid: { left: 80, right: 20, top: 50, bottom: 30 },
      xAxis: { type: "category", data: f.months },
      yAxis: { type: "value" },
      series: [
        ...bars.map((k) => ({ name: f.labels[k], type: "bar", data: number(f[k]), color: colors[k] })),
        ...lines.map((k) => ({
          name: f.labels[k], type: "line", data: number(f[k]), color: colors[k], connectNulls: false,
          lineStyle: k === "statistical" ? { type: "dashed" } : undefined,
        })),
      ],
    });
    window.addEventListener("resize", () => chart.resize());
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
