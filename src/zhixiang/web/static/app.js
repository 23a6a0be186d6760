// 智享 pages: charts (ECharts, SVG so they stay sharp and testable), the map picker, sortable
// tables and deadline countdowns. Everything works without this file; it only adds to the page.
(function () {
  "use strict";
  var charts = [];

  function drillTo(code) {
    var url = new URL(window.location.href);
    url.searchParams.set("district", code);
    window.location.href = url.toString();
  }

  function initChart(el) {
    if (el.dataset.ready || typeof echarts === "undefined") return;
    el.dataset.ready = "1";
    var chart = echarts.init(el, null, { renderer: "svg", locale: "ZH" });
    charts.push(chart);
    if (el.dataset.chart) {
      chart.setOption(JSON.parse(el.dataset.chart));
      if (el.dataset.map) {
        chart.on("click", function (p) { if (p.data && p.data.code) drillTo(p.data.code); });
      }
    } else if (el.dataset.pick) {
      var select = document.getElementById(el.dataset.pick);
      var names = {};
      Array.prototype.forEach.call(select.options, function (o) { if (o.value) names[o.text] = o.value; });
      chart.setOption({
        tooltip: { trigger: "item", formatter: "{b}" },
        series: [{ type: "map", map: el.dataset.map, selectedMode: "single", label: { show: true },
                   itemStyle: { areaColor: "#e8f1fb", borderColor: "#0b4f8a" },
                   select: { itemStyle: { areaColor: "#0b5cad" }, label: { color: "#fff" } } }]
      });
      chart.on("click", function (p) {
        if (!names[p.name]) return;
        select.value = names[p.name];
        select.dispatchEvent(new Event("change", { bubbles: true }));
      });
      select.addEventListener("change", function () {
        var chosen = select.options[select.selectedIndex];
        chart.dispatchAction({ type: "unselect", seriesIndex: 0, dataIndex: [0, 1, 2, 3, 4, 5] });
        if (chosen && chosen.value) chart.dispatchAction({ type: "select", seriesIndex: 0, name: chosen.text });
      });
    }
    el.dataset.drawn = "1";
  }

  function sortTable(button) {
    var th = button.closest("th");
    var table = th.closest("table");
    var index = Array.prototype.indexOf.call(th.parentNode.children, th);
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    Array.prototype.forEach.call(th.parentNode.children, function (h) { h.setAttribute("aria-sort", "none"); });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    function key(row) {
      var cell = row.cells[index];
      if (!cell) return "";
      var raw = cell.dataset.sort !== undefined ? cell.dataset.sort : cell.textContent.trim();
      var number = parseFloat(raw.replace(/,/g, ""));
      return isNaN(number) || !/^-?[\d,.]+/.test(raw) ? raw : number;
    }
    rows.sort(function (a, b) {
      var x = key(a), y = key(b);
      var order = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y), "zh-CN");
      return ascending ? order : -order;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll("time[data-deadline]").forEach(function (el) {
      var left = Math.round((Date.parse(el.dataset.deadline) - now) / 1000);
      var abs = Math.abs(left), days = Math.floor(abs / 86400), hours = Math.floor(abs % 86400 / 3600);
      var span = days ? days + "天" + hours + "小时" : hours + "小时" + Math.floor(abs % 3600 / 60) + "分";
      el.textContent = (left < 0 ? "已超期 " : "剩余 ") + span;
      el.classList.toggle("late", left < 0);
    });
  }

  function init(root) {
    root.querySelectorAll(".chart").forEach(initChart);
  }

  document.addEventListener("click", function (e) {
    var button = e.target.closest("table.sortable th button");
    if (button) sortTable(button);
  });
  document.addEventListener("htmx:afterSwap", function (e) { init(e.target); });
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  document.addEventListener("DOMContentLoaded", function () {
    init(document);
    setInterval(tick, 30000);
  });
})();
