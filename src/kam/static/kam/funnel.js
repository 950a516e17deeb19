// The funnel page's chart (ECharts): one band per stage, as wide as the opportunities that reached it; the
// label and tooltip give the count, the amount and the conversion to the next stage. The figures come from
// the page's JSON (json_script), rendered by the server like the table beside it.
(function drawFunnel() {
  const el = document.getElementById("funnel-chart");
  const data = document.getElementById("funnel-data");
  if (!el || !data || !window.echarts) return;
  const funnel = JSON.parse(data.textContent);
  const number = new Intl.NumberFormat(document.documentElement.lang || undefined, { maximumFractionDigits: 2 });
  const rows = funnel.stages.map((name, i) => ({
    name,
    value: funnel.reached[i],
    amount: number.format(Number(funnel.amounts[i])),
    conversion: funnel.conversion[i],
  }));
  const describe = (row) =>
    `${row.name}: ${row.value} · ${funnel.labels.amount} ${row.amount}` +
    (row.conversion === null ? "" : ` · ${funnel.labels.conversion} ${row.conversion}%`);
  const chart = window.echarts.init(el);
  chart.on("finished", () => { el.dataset.rendered = "true"; });
  chart.setOption({
    animationDuration: 300,
    tooltip: { trigger: "item", renderMode: "richText", formatter: (p) => describe(rows[p.dataIndex]) },
    series: [{
      type: "funnel",
      sort: "none",
      left: "10%",
      width: "80%",
      minSize: "8%",
      max: Math.max(1, ...funnel.reached),
      label: { position: "inside", formatter: (p) => describe(rows[p.dataIndex]) },
      data: rows.map((row) => ({ name: row.name, value: row.value })),
    }],
  });
  window.addEventListener("resize", () => chart.resize());
})();
