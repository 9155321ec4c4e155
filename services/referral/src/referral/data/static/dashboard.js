// The steering dashboard's charts (Chart.js, served by the referral service itself). Each canvas
// names the JSON island holding its data; the same figures are in the table that follows it, so
// the page reads without scripts. Secret values are gaps (null).
(function () {
  "use strict";
  if (typeof Chart === "undefined") {
    return;
  }
  var palette = ["#000091", "#c9191e", "#18753c", "#716043"];
  Chart.defaults.font.family = "system-ui, sans-serif";
  Chart.defaults.color = "#1e1e1e";
  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    var source = document.getElementById(canvas.dataset.chart);
    if (!source) {
      return;
    }
    var data = JSON.parse(source.textContent);
    var kind = canvas.dataset.kind === "line" ? "line" : "bar";
    var chart = new Chart(canvas, {
      type: kind,
      data: {
        labels: data.labels,
        datasets: data.series.map(function (series, index) {
          return {
            label: series.label,
            data: series.values,
            backgroundColor: palette[index % palette.length],
            borderColor: palette[index % palette.length],
            spanGaps: false
          };
        })
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
        plugins: { legend: { position: "bottom" } }
      }
    });
    canvas.dataset.rendered = String(chart.data.datasets.length);
  });
})();
