// Draws every chart of the page: each div holds its figure as JSON (automl.charts.figure_html),
// so no inline script is needed and the Content-Security-Policy can forbid them.
"use strict";

function drawFigures(root) {
  for (const div of root.querySelectorAll("div[data-figure]:not([data-drawn])")) {
    const figure = JSON.parse(div.dataset.figure);
    div.dataset.drawn = "1";
    // A constant uirevision: a live page's Plotly.react keeps the user's zoom and pan.
    const layout = Object.assign({ uirevision: "keep" }, figure.layout || {});
    Plotly.newPlot(div, figure.data, layout, JSON.parse(div.dataset.config || "{}"));
  }
}

drawFigures(document);
