// KAM page behaviour: CSRF for htmx requests and the buying-centre org chart. No inline scripts (CSP).
document.addEventListener("htmx:configRequest", (event) => {
  const token = document.querySelector("input[name=csrfmiddlewaretoken]");
  if (token) event.detail.headers["X-CSRFToken"] = token.value;
});

const ATTITUDE_COLOURS = { champion: "#1b5e20", supportive: "#66bb6a", neutral: "#90a4ae", sceptical: "#ffa726", opposed: "#e53935" };

function drawOrgChart() {
  const el = document.getElementById("org-chart");
  const data = document.getElementById("org-chart-data");
  if (!el || !data || !window.echarts) return;
  const tree = JSON.parse(data.textContent);
  const style = (node) => {
    if (node.attitude) {
      node.symbolSize = 10 + node.influence * 6;
      node.itemStyle = { color: ATTITUDE_COLOURS[node.attitude] || "#90a4ae" };
      node.label = { formatter: [node.name, node.title].filter(Boolean).join("\n") };
    } else {
      node.symbolSize = 14;
      node.itemStyle = { color: "#b3261e" };
    }
    (node.children || []).forEach(style);
    return node;
  };
  const chart = window.echarts.init(el);
  chart.setOption({
    tooltip: { formatter: (p) => [p.data.name, p.data.title, p.data.role].filter(Boolean).map(window.echarts.format.encodeHTML).join("<br>") },
    series: [{ type: "tree", data: [style(tree)], orient: "TB", top: 30, bottom: 60, expandAndCollapse: false,
      label: { position: "bottom", fontSize: 12 }, leaves: { label: { position: "bottom" } } }],
  });
  el.dataset.rendered = "true";
  window.addEventListener("resize", () => chart.resize());
}

document.addEventListener("DOMContentLoaded", drawOrgChart);
