// The officials' dashboard: live turnout. Loaded as a file (the CSP forbids inline scripts); it
// reads the JSON endpoint named by the page's data-turnout-url attribute every few seconds and
// updates the numbers and, where the page has them, the charts (chart.js, served by the app).
(function () {
  "use strict";
  var POLL_MS = 3000;
  var root = document.querySelector("[data-turnout-url]");
  if (!root) { return; }
  var url = root.getAttribute("data-turnout-url");
  var timeChart = null;
  var kioskChart = null;

  function label(iso) {
    var d = new Date(iso);
    return isNaN(d.getTime()) ? iso : d.toLocaleTimeString("ja-JP", { hour12: false });
  }

  function setField(name, value) {
    var nodes = document.querySelectorAll('[data-field="' + name + '"]');
    for (var i = 0; i < nodes.length; i++) {
      nodes[i].textContent = value === null || value === undefined ? "—" : String(value);
    }
  }

  function makeCharts() {
    if (typeof window.Chart !== "function") { return; }
    var t = document.getElementById("turnout-time");
    if (t && !timeChart) {
      timeChart = new window.Chart(t, {
        type: "line",
        data: { labels: [], datasets: [{ label: "投票数（累計） / ballots (cumulative)", data: [],
          borderColor: "#0b5cad", backgroundColor: "rgba(11,92,173,0.15)", fill: true,
          stepped: true, pointRadius: 2 }] },
        options: { animation: false, maintainAspectRatio: false,
          scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
      });
    }
    var k = document.getElementById("turnout-kiosk");
    if (k && !kioskChart) {
      kioskChart = new window.Chart(k, {
        type: "bar",
        data: { labels: [], datasets: [{ label: "投票数 / ballots cast", data: [],
          backgroundColor: "#1a7f37" }] },
        options: { animation: false, maintainAspectRatio: false, indexAxis: "y",
          scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } }
      });
    }
  }

  function render(data) {
    ["ballots", "counted", "excluded", "checked", "indexed_to_block"].forEach(function (f) {
      setField(f, data[f]);
    });
    setField("updated", "更新 / updated " + new Date().toLocaleTimeString("ja-JP", { hour12: false }));
    makeCharts();
    if (timeChart) {
      timeChart.data.labels = data.over_time.map(function (p) { return label(p.t); });
      timeChart.data.datasets[0].data = data.over_time.map(function (p) { return p.ballots; });
      timeChart.update();
    }
    if (kioskChart) {
      kioskChart.data.labels = data.per_kiosk.map(function (k) { return k.kiosk; });
      kioskChart.data.datasets[0].data = data.per_kiosk.map(function (k) { return k.ballots_cast; });
      kioskChart.update();
    }
    var none = data.per_kiosk.length === 0;
    document.querySelectorAll("[data-kiosk-chart]").forEach(function (el) { el.hidden = none; });
    document.querySelectorAll("[data-no-kiosk]").forEach(function (el) { el.hidden = !none; });
    var rows = document.querySelector("[data-kiosk-rows]");
    if (rows) {
      while (rows.firstChild) { rows.removeChild(rows.firstChild); }
      data.per_kiosk.forEach(function (k) {
        var tr = document.createElement("tr");
        [k.kiosk, k.ballots_cast, k.reported_at].forEach(function (v, i) {
          var td = document.createElement("td");
          td.textContent = String(v);
          if (i === 1) { td.className = "num"; }
          tr.appendChild(td);
        });
        rows.appendChild(tr);
      });
    }
    root.setAttribute("data-loaded", String(data.ballots));
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) {
        if (r.status === 401) { window.location.reload(); throw new Error("logged out"); }
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        return r.json();
      })
      .then(render)
      .catch(function (e) { setField("updated", "更新できません / cannot update: " + e.message); })
      .then(function () { window.setTimeout(poll, POLL_MS); });
  }
  poll();
})();
