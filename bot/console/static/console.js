// The console's only script of its own: it adds to pages that work without it.
(function () {
  'use strict';
  var csrf = document.body ? document.body.getAttribute('data-csrf') : null;

  // htmx requests carry the session's CSRF token like the forms do.
  document.addEventListener('htmx:configRequest', function (event) {
    if (csrf) { event.detail.headers['X-CSRF-Token'] = csrf; }
  });

  // "Select all" boxes tick the rows of their table.
  document.addEventListener('change', function (event) {
    var box = event.target;
    if (!box.matches || !box.matches('input[data-select-all]')) { return; }
    var scope = document.getElementById(box.getAttribute('data-select-all'));
    if (!scope) { return; }
    scope.querySelectorAll('input[type=checkbox][name]').forEach(function (row) { row.checked = box.checked; });
  });

  // A button with data-confirm asks first (bulk actions, cancelling a notice).
  document.addEventListener('click', function (event) {
    var button = event.target.closest ? event.target.closest('[data-confirm]') : null;
    if (button && !window.confirm(button.getAttribute('data-confirm'))) { event.preventDefault(); }
  });

  // Charts: an element with data-chart="ID" draws the ECharts option kept as JSON in <script id="ID">.
  function drawCharts(root) {
    if (!window.echarts) { return; }
    root.querySelectorAll('[data-chart]').forEach(function (element) {
      var source = document.getElementById(element.getAttribute('data-chart'));
      if (!source || element.getAttribute('data-drawn')) { return; }
      var option = JSON.parse(source.textContent);
      var chart = window.echarts.init(element, null, { renderer: 'canvas' });
      chart.setOption(option);
      element.setAttribute('data-drawn', '1');
      window.addEventListener('resize', function () { chart.resize(); });
    });
  }
  document.addEventListener('DOMContentLoaded', function () { drawCharts(document); });
  document.addEventListener('htmx:afterSwap', function (event) { drawCharts(event.target); });
})();
