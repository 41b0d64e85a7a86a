// A stacked bar chart in SVG, drawn here in a few lines rather than with a charting library: one
// bar a day, one colour a series, a <title> on every segment, a legend in HTML. No inline style
// (the page's policy forbids it): colours come from console CSS classes (.series-N).

import { el } from "./api.js";

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 840;
const HEIGHT = 260;
const PAD = { left: 56, right: 12, top: 12, bottom: 30 };
const COLOURS = 8;

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  node.append(...children);
  return node;
}

// A round step for the axis: 1, 2 or 5 times a power of ten, about `ticks` of them up to `top`.
function step(top, ticks) {
  const raw = top / ticks;
  const power = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw);
}

// days: ["2026-11-01", ...]; series: ["model", ...]; value(day, series) -> number;
// label(day, series, value) -> the segment's tooltip; format(number) -> axis text.
export function stackedBars({ days, series, value, label, format, title }) {
  const totals = days.map((day) => series.reduce((sum, s) => sum + value(day, s), 0));
  const top = Math.max(...totals, 0);
  const unit = top > 0 ? step(top, 4) : 1;
  const ceiling = top > 0 ? Math.ceil(top / unit) * unit : 1;
  const plotWidth = WIDTH - PAD.left - PAD.right;
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  const y = (v) => PAD.top + plotHeight - (v / ceiling) * plotHeight;
  const slot = plotWidth / Math.max(days.length, 1);
  const barWidth = Math.max(2, slot * 0.7);

  const chart = svg("svg", {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-label": title, class: "bars",
  });
  for (let v = 0; v <= ceiling + unit / 2; v += unit) {
    chart.append(
      svg("line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: y(v), y2: y(v), class: "grid" }),
      svg("text", { x: PAD.left - 6, y: y(v) + 4, class: "axis", "text-anchor": "end" }, format(v)),
    );
  }
  const every = Math.ceil(days.length / 12); // at most a dozen day labels
  days.forEach((day, i) => {
    const x = PAD.left + i * slot + (slot - barWidth) / 2;
    let base = 0;
    series.forEach((name, n) => {
      const v = value(day, name);
      if (v <= 0) return;
      chart.append(
        svg(
          "rect",
          {
            x, width: barWidth, y: y(base + v), height: Math.max(1, y(base) - y(base + v)),
            class: `bar series-${n % COLOURS}`, "data-day": day, "data-series": name,
          },
          svg("title", {}, label(day, name, v)),
        ),
      );
      base += v;
    });
    if (i % every === 0) {
      chart.append(svg("text", { x: x + barWidth / 2, y: HEIGHT - 10, class: "axis", "text-anchor": "middle" }, day.slice(5)));
    }
  });
  const legend = el(
    "ul",
    { class: "legend" },
    ...series.map((name, n) => el("li", {}, el("span", { class: `swatch series-${n % COLOURS}` }), name)),
  );
  return [chart, legend];
}

// Every day from `first` to `last` (YYYY-MM-DD, both included).
export function daysBetween(first, last) {
  const days = [];
  for (let at = new Date(`${first}T00:00:00Z`); at <= new Date(`${last}T00:00:00Z`); at.setUTCDate(at.getUTCDate() + 1)) {
    days.push(at.toISOString().slice(0, 10));
    if (days.length > 3660) break;
  }
  return days;
}
