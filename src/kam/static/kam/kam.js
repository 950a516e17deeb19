// KAM page behaviour: CSRF for htmx requests, cascading region pickers and the buying-centre org
// chart. No inline scripts (CSP): pages only carry data (json_script, data-* attributes).
document.addEventListener("htmx:configRequest", (event) => {
  const token = document.querySelector("input[name=csrfmiddlewaretoken]");
  if (token) event.detail.headers["X-CSRFToken"] = token.value;
});

// A new province empties the city list; tell the city picker so that the district list follows
// (otherwise a district of the old city would stay selectable).
document.addEventListener("htmx:afterSwap", (event) => {
  const target = event.detail.target;
  if (target instanceof HTMLSelectElement && target.hasAttribute("hx-get")) {
    target.dispatchEvent(new Event("change", { bubbles: true }));
  }
});

// Same colours as the attitude pills in kam.css.
const ATTITUDE_COLOURS = { champion: "#1b5e20", supportive: "#66bb6a", neutral: "#90a4ae", sceptical: "#ffa726", opposed: "#e53935" };

function treeShape(node, depth = 1) {
  const children = node.children || [];
  if (!children.length) return { depth, leaves: 1 };
  return children.map((c) => treeShape(c, depth + 1)).reduce(
    (a, b) => ({ depth: Math.max(a.depth, b.depth), leaves: a.leaves + b.leaves }), { depth, leaves: 0 });
}

// Labels beside the nodes that have reports (below them the lines would cross the text), under
// the leaves (beside them when the tree is drawn from left to right).
function styleNode(node, orient) {
  const inner = (node.children || []).length > 0;
  const position = orient === "LR" ? (inner ? "top" : "right") : inner ? "right" : "bottom";
  const align = orient === "LR" && inner ? "left" : undefined; // a long account name must not run off the left edge
  if (node.attitude) {
    node.symbol = "circle";
    node.symbolSize = 12 + node.influence * 5;
    node.itemStyle = { color: ATTITUDE_COLOURS[node.attitude] || ATTITUDE_COLOURS.neutral, borderColor: "#fff", borderWidth: 2 };
    const title = node.title ? "\n{title|" + node.title.replace(/[{}|]/g, " ") + "}" : "";
    node.label = { position, align, formatter: "{name|{b}}" + title };
  } else {
    node.symbol = "roundRect";
    node.symbolSize = [16, 16];
    node.itemStyle = { color: "#b3261e" };
    // Drawn from the left, the account's label goes under it, clear of its first report's label.
    node.label = { position: orient === "LR" ? "bottom" : position, align, formatter: "{account|{b}}" };
  }
  (node.children || []).forEach((child) => styleNode(child, orient));
  return node;
}

function drawOrgChart() {
  const el = document.getElementById("org-chart");
  const data = document.getElementById("org-chart-data");
  if (!el || !data || !window.echarts) return;
  const tree = JSON.parse(data.textContent);
  const shape = treeShape(tree);
  // Wide trees on a narrow screen read better from left to right; the height follows the tree.
  const narrow = el.clientWidth < 120 * shape.leaves;
  const orient = narrow ? "LR" : "TB";
  styleNode(tree, orient);
  el.style.height = (narrow ? Math.max(260, shape.leaves * 64) : Math.max(260, shape.depth * 110)) + "px";
  const chart = window.echarts.init(el);
  // "Rendered" once drawn to the end (after the animation), for tests and screenshots alike.
  chart.on("finished", () => { el.dataset.rendered = "true"; });
  chart.setOption({
    // Drawn on the canvas, not as HTML: names stay text, and no inline styles for the CSP to block.
    tooltip: {
      renderMode: "richText",
      formatter: (p) => [p.data.name, p.data.title, p.data.role].filter(Boolean).join("\n"),
    },
    series: [{
      type: "tree", data: [tree], orient, roam: false, expandAndCollapse: false, animationDuration: 300,
      top: 30, bottom: narrow ? 20 : 60, left: narrow ? 20 : 90, right: narrow ? 110 : 90,
      lineStyle: { color: "#c9d1d9", width: 1.5, curveness: 0.4 },
      label: {
        distance: 6, color: "#1f2933", lineHeight: 16,
        rich: {
          account: { fontSize: 13, fontWeight: "bold", color: "#b3261e" },
          name: { fontSize: 13, fontWeight: "bold", color: "#1f2933" },
          title: { fontSize: 11, color: "#6b7785" },
        },
      },
    }],
  });
  window.addEventListener("resize", () => chart.resize());
}

document.addEventListener("DOMContentLoaded", drawOrgChart);
