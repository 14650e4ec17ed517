// JobMonitor: live curves of an RFT job, drawn as SVG in the browser (no CDN, no build).
//
// The kernel sends the state so far in the `base` trait and then append-only deltas as custom
// messages ({kind: "delta", from, to, series, points, evals, checkpoints, messages, progress}).
// Applying a delta is idempotent (points are keyed by step, evals and checkpoints by id), so a
// view that missed some asks for them again ({kind: "resync", seq}).

const SVG = "http://www.w3.org/2000/svg";
const W = 480;
const H = 190;
const M = { l: 46, r: 10, t: 8, b: 20 };
const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
  "#7f7f7f", "#bcbd22", "#17becf"];
const GROUPS = ["reward", "graders", "tokens", "errors", "other"];
const TITLES = { reward: "Reward", graders: "Per-grader reward", tokens: "Tokens",
  errors: "Error rates", other: "Other metrics" };
const TERMINAL = ["succeeded", "failed", "cancelled", "replayed"];

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) if (c != null) node.append(c);
  return node;
}

function s(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

function fmt(v, digits = 4) {
  if (v == null || Number.isNaN(v)) return "–";
  if (typeof v !== "number") return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(2);
  return v.toFixed(a >= 100 ? 1 : digits);
}

function duration(sec) {
  if (sec == null || !Number.isFinite(sec)) return "–";
  sec = Math.max(0, Math.round(sec));
  const hh = Math.floor(sec / 3600), mm = Math.floor((sec % 3600) / 60), ss = sec % 60;
  return hh ? `${hh}h${String(mm).padStart(2, "0")}m` : `${mm}m${String(ss).padStart(2, "0")}s`;
}

function niceTicks(lo, hi, n = 4, integer = false) {
  if (!(hi > lo)) return [lo];
  const step0 = (hi - lo) / n;
  const mag = Math.pow(10, Math.floor(Math.log10(step0)));
  let step = [1, 2, 5, 10].map((m) => m * mag).find((x) => x >= step0) || step0;
  if (integer) step = Math.max(1, Math.round(step));
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(v);
  return out;
}

function emptyState() {
  return { seq: 0, series: new Map(), evals: new Map(), ckpts: new Map(), messages: [],
    msgKeys: new Set(), progress: {}, samples: new Map() };
}

function applyPayload(st, p) {
  if (!p) return;
  for (const [col, meta] of Object.entries(p.series || {})) {
    if (!st.series.has(col)) st.series.set(col, { ...meta, pts: new Map(), color: null });
  }
  for (const [col, pts] of Object.entries(p.points || {})) {
    let entry = st.series.get(col);
    if (!entry) {
      entry = { group: "other", label: col, pts: new Map(), color: null };
      st.series.set(col, entry);
    }
    for (const [step, value] of pts) entry.pts.set(step, value);
    entry.sorted = null;
  }
  for (const e of p.evals || []) st.evals.set(e.id, e);
  for (const c of p.checkpoints || []) {
    if (c.deleted) st.ckpts.delete(c.id);
    else st.ckpts.set(c.id, c);
  }
  for (const m of p.messages || []) {
    if (st.msgKeys.has(m.id)) continue;
    st.msgKeys.add(m.id);
    st.messages.push(m);
  }
  if (st.messages.length > 200) st.messages.splice(0, st.messages.length - 200);
  if (p.progress) st.progress = { ...st.progress, ...p.progress, received: Date.now() };
  if (typeof p.to === "number") st.seq = Math.max(st.seq, p.to);
}

function sortedPoints(entry) {
  if (!entry.sorted) entry.sorted = [...entry.pts.entries()].sort((a, b) => a[0] - b[0]);
  return entry.sorted;
}

function smooth(pts, alpha) {
  if (!alpha) return pts;
  let acc = 0, weight = 0;
  return pts.map(([x, y]) => {
    acc = acc * alpha + (1 - alpha) * y;
    weight = weight * alpha + (1 - alpha);
    return [x, acc / weight];
  });
}

function render({ model, el }) {
  const st = emptyState();
  const ui = { log: false, smooth: 0, window: 0, other: null, selected: null, confirm: 0 };
  let frame = 0;

  const root = h("div", { class: "rft-jm" });
  const title = h("span", { class: "rft-jm-title" });
  const status = h("span", { class: "rft-jm-status" });
  const progress = h("span", { class: "rft-jm-progress" });
  const buttons = {};
  for (const action of ["pause", "resume", "cancel"]) {
    buttons[action] = h("button", {
      class: `rft-jm-btn rft-jm-${action}`, "data-action": action, type: "button",
      text: action[0].toUpperCase() + action.slice(1),
      onclick: () => control(action),
    });
  }
  const head = h("div", { class: "rft-jm-head" }, title, status, progress,
    h("span", { class: "rft-jm-buttons" }, buttons.pause, buttons.resume, buttons.cancel));
  const notices = h("div", { class: "rft-jm-notices" });
  const logBox = h("input", { type: "checkbox", class: "rft-jm-log-toggle",
    onchange: (e) => { ui.log = e.target.checked; schedule(); } });
  const smoothBox = h("input", { type: "range", min: "0", max: "0.99", step: "0.01", value: "0",
    class: "rft-jm-smooth", oninput: (e) => { ui.smooth = Number(e.target.value); schedule(); } });
  const windowSel = h("select", { class: "rft-jm-window",
    onchange: (e) => { ui.window = Number(e.target.value); schedule(); } });
  for (const [v, t] of [[0, "all"], [50, "50"], [200, "200"], [1000, "1000"]]) {
    windowSel.append(h("option", { value: String(v), text: t }));
  }
  const controls = h("div", { class: "rft-jm-controls" },
    h("label", {}, logBox, " log scale"),
    h("label", {}, "smoothing ", smoothBox),
    h("label", {}, "steps: ", windowSel));
  const panels = h("div", { class: "rft-jm-panels" });
  const evals = h("div", { class: "rft-jm-evals" });
  const ckpts = h("div", { class: "rft-jm-ckpts" });
  const messages = h("div", { class: "rft-jm-messages" });
  root.append(head, notices, controls, panels, evals, ckpts, messages);
  el.append(root);

  function control(action) {
    if (action === "cancel" && Date.now() - ui.confirm > 4000) {
      ui.confirm = Date.now();
      buttons.cancel.textContent = "Confirm cancel";
      setTimeout(() => { buttons.cancel.textContent = "Cancel"; }, 4000);
      return;
    }
    ui.confirm = 0;
    buttons.cancel.textContent = "Cancel";
    model.send({ kind: "control", action });
    buttons[action].disabled = true;
  }

  function schedule() {
    if (frame) return;
    frame = requestAnimationFrame(() => { frame = 0; draw(); });
  }

  function colorOf(entry, i) {
    if (!entry.color) entry.color = PALETTE[i % PALETTE.length];
    return entry.color;
  }

  function drawHead() {
    const p = st.progress;
    const job = p.job || {};
    title.textContent = [job.id, p.source, job.model].filter(Boolean).join(" · ");
    const stat = model.get("status") || p.status || "unknown";
    status.textContent = model.get("frozen") ? `${stat} (final)` : stat;
    status.dataset.status = stat;
    const bits = [];
    if (p.step != null) bits.push(`step ${p.step}${p.total_steps ? "/" + p.total_steps : ""}`);
    let elapsed = p.elapsed;
    if (elapsed != null && p.clock === "wall" && !TERMINAL.includes(stat) && p.received) {
      elapsed += (Date.now() - p.received) / 1000;
    }
    bits.push(`elapsed ${duration(elapsed)}`);
    if (p.eta != null) bits.push(`ETA ${duration(p.eta)}`);
    if (p.cost) bits.push(`cost ≈ $${p.cost.spent.toFixed(2)}` +
      (p.budget != null ? ` of $${Number(p.budget).toFixed(2)}` : ""));
    if (p.error) bits.push(`⚠ ${p.error}`);
    progress.textContent = bits.join(" · ");
    const frozen = model.get("frozen") || TERMINAL.includes(stat);
    const live = !frozen && p.controllable !== false;
    const paused = stat === "paused" || stat === "pausing";
    buttons.pause.disabled = !(live && !paused && stat !== "cancelling");
    buttons.resume.disabled = !(live && paused);
    buttons.cancel.disabled = !(live && stat !== "cancelling");
    for (const btn of Object.values(buttons)) btn.hidden = model.get("frozen");
    notices.replaceChildren(...(p.notices || []).map((t) => h("div", { class: "rft-jm-notice",
      text: `⚠ ${t}` })));
  }

  function visible(pts) {
    if (!ui.window || !pts.length) return pts;
    const last = pts[pts.length - 1][0];
    return pts.filter(([x]) => x > last - ui.window);
  }

  function drawPanel(group, entries) {
    const panel = h("div", { class: "rft-jm-panel", "data-group": group });
    const header = h("div", { class: "rft-jm-ptitle", text: TITLES[group] || group });
    panel.append(header);
    let list = entries;
    if (group === "other") {
      const select = h("select", { class: "rft-jm-other",
        onchange: (e) => { ui.other = e.target.value; schedule(); } });
      for (const [col, entry] of entries) select.append(h("option", { value: col, text: entry.label }));
      if (!ui.other || !entries.some(([c]) => c === ui.other)) ui.other = entries[0][0];
      select.value = ui.other;
      header.append(" ", select);
      list = entries.filter(([c]) => c === ui.other);
    }
    const drawn = list.map(([col, entry], i) => {
      const raw = visible(sortedPoints(entry)).filter(([, y]) => Number.isFinite(y) &&
        (!ui.log || y > 0));
      return { col, entry, raw, pts: smooth(raw, ui.smooth), color: colorOf(entry, i) };
    });
    const all = drawn.flatMap((d) => d.raw);
    if (group === "reward" && all.length) {  // eval runs and checkpoints inside the frame
      const lo = Math.min(...all.map((p) => p[0])), hi = Math.max(...all.map((p) => p[0]));
      const marks = [...[...st.evals.values()].map((e) => [e.step, e.reward_mean]),
        ...[...st.ckpts.values()].map((c) => [c.step, c.valid_reward_mean])];
      for (const [x, y] of marks) {
        if (x != null && y != null && x >= lo && x <= hi && Number.isFinite(y) &&
          (!ui.log || y > 0)) all.push([x, y]);
      }
    }
    const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "rft-jm-svg",
      preserveAspectRatio: "xMidYMid meet" });
    panel.append(svg);
    if (!all.length) {
      const t = s("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "rft-jm-empty" });
      t.textContent = ui.log ? "no positive values for a log scale" : "no points yet";
      svg.append(t);
    } else {
      let x0 = Math.min(...all.map((p) => p[0])), x1 = Math.max(...all.map((p) => p[0]));
      if (x1 === x0) { x0 -= 1; x1 += 1; }
      const tf = ui.log ? (v) => Math.log10(v) : (v) => v;
      let y0 = Math.min(...all.map((p) => tf(p[1]))), y1 = Math.max(...all.map((p) => tf(p[1])));
      if (y1 === y0) { y0 -= 0.5; y1 += 0.5; }
      const pad = (y1 - y0) * 0.06;
      y0 -= pad; y1 += pad;
      const X = (x) => M.l + ((x - x0) / (x1 - x0)) * (W - M.l - M.r);
      const Y = (y) => H - M.b - ((tf(y) - y0) / (y1 - y0)) * (H - M.t - M.b);
      const Yt = (t) => H - M.b - ((t - y0) / (y1 - y0)) * (H - M.t - M.b);
      for (const t of niceTicks(y0, y1)) {
        svg.append(s("line", { x1: M.l, x2: W - M.r, y1: Yt(t), y2: Yt(t), class: "rft-jm-grid" }));
        const lab = s("text", { x: M.l - 4, y: Yt(t) + 3, "text-anchor": "end", class: "rft-jm-tick" });
        lab.textContent = ui.log ? fmt(Math.pow(10, t), 3) : fmt(t, 3);
        svg.append(lab);
      }
      for (const t of niceTicks(x0, x1, 5, true)) {
        const lab = s("text", { x: X(t), y: H - 5, "text-anchor": "middle", class: "rft-jm-tick" });
        lab.textContent = String(Math.round(t));
        svg.append(lab);
      }
      if (group === "reward") {
        for (const e of st.evals.values()) {
          if (e.step == null || e.step < x0 || e.step > x1) continue;
          svg.append(s("line", { x1: X(e.step), x2: X(e.step), y1: M.t, y2: H - M.b,
            class: "rft-jm-evalline" }));
          if (e.reward_mean != null && (!ui.log || e.reward_mean > 0)) {
            const dot = s("circle", { cx: X(e.step), cy: Y(e.reward_mean), r: 4,
              class: "rft-jm-evaldot", "data-eval": e.id });
            dot.addEventListener("click", () => selectEval(e.id));
            const tip = s("title");
            tip.textContent = `eval run at step ${e.step}: ${fmt(e.reward_mean)} (${e.n} samples)`;
            dot.append(tip);
            svg.append(dot);
          }
        }
        for (const c of st.ckpts.values()) {
          const v = c.valid_reward_mean;
          if (c.step == null || v == null || c.step < x0 || c.step > x1 || (ui.log && v <= 0)) continue;
          const star = s("path", { d: starPath(X(c.step), Y(v), 7), class: "rft-jm-ckpt",
            "data-ckpt": c.id });
          const tip = s("title");
          tip.textContent = `checkpoint at step ${c.step}: valid ${fmt(v)}`;
          star.append(tip);
          svg.append(star);
        }
      }
      for (const d of drawn) {
        if (!d.pts.length) continue;
        const attrs = { fill: "none", stroke: d.color, "data-series": d.col, "data-n": d.raw.length,
          class: "rft-jm-line" };
        if (ui.smooth && d.raw.length > 1) {
          svg.append(s("polyline", { points: d.raw.map(([x, y]) => `${X(x)},${Y(y)}`).join(" "),
            fill: "none", stroke: d.color, class: "rft-jm-raw" }));
        }
        svg.append(s("polyline", { ...attrs,
          points: d.pts.map(([x, y]) => `${X(x)},${Y(y)}`).join(" ") }));
        if (d.raw.length <= 3 || d.raw.length * 6 < (W - M.l - M.r) / 8) {
          for (const [x, y] of d.raw) {
            svg.append(s("circle", { cx: X(x), cy: Y(y), r: 2.2, fill: d.color, class: "rft-jm-pt" }));
          }
        }
      }
    }
    const legend = h("table", { class: "rft-jm-legend" },
      h("tr", {}, h("th", { text: "" }), h("th", { text: "series" }), h("th", { text: "current" }),
        h("th", { text: "min" }), h("th", { text: "max" })));
    for (const d of drawn) {
      const ys = d.raw.map((p) => p[1]);
      const cur = d.pts.length ? d.pts[d.pts.length - 1][1] : null;
      legend.append(h("tr", { "data-series": d.col },
        h("td", {}, h("span", { class: "rft-jm-swatch", style: `background:${d.color}` })),
        h("td", { text: d.entry.label, title: d.col }),
        h("td", { class: "rft-jm-cur", text: fmt(cur) }),
        h("td", { class: "rft-jm-min", text: ys.length ? fmt(Math.min(...ys)) : "–" }),
        h("td", { class: "rft-jm-max", text: ys.length ? fmt(Math.max(...ys)) : "–" })));
    }
    panel.append(legend);
    return panel;
  }

  function starPath(cx, cy, r) {
    const pts = [];
    for (let i = 0; i < 10; i++) {
      const a = (Math.PI / 5) * i - Math.PI / 2;
      const rr = i % 2 ? r * 0.45 : r;
      pts.push(`${cx + rr * Math.cos(a)},${cy + rr * Math.sin(a)}`);
    }
    return `M${pts.join("L")}Z`;
  }

  function selectEval(id) {
    ui.selected = ui.selected === id ? null : id;
    if (ui.selected && !st.samples.has(id)) model.send({ kind: "eval_samples", run: id });
    schedule();
  }

  function drawEvals() {
    const runs = [...st.evals.values()].sort((a, b) => (a.step ?? 1e18) - (b.step ?? 1e18));
    evals.replaceChildren();
    if (!runs.length) return;
    const chips = h("div", { class: "rft-jm-chips" }, h("b", { text: "Eval runs " }));
    for (const r of runs) {
      chips.append(h("button", { type: "button", class: "rft-jm-chip" +
        (ui.selected === r.id ? " rft-jm-chip-on" : ""), "data-eval": r.id,
        text: `step ${r.step ?? "?"}: ${fmt(r.reward_mean, 3)}`, onclick: () => selectEval(r.id) }));
    }
    evals.append(chips);
    if (!ui.selected) return;
    const rows = st.samples.get(ui.selected);
    if (!rows) { evals.append(h("div", { text: "loading samples…" })); return; }
    const subKeys = [...new Set(rows.flatMap((r) => Object.keys(r.sub_rewards || r.scores || {})))];
    const table = h("table", { class: "rft-jm-samples" });
    table.append(h("tr", {}, ...["#", "reward", "passed", ...subKeys, "output", "error"].map(
      (t) => h("th", { text: t }))));
    for (const r of rows) {
      const subs = r.sub_rewards || r.scores || {};
      table.append(h("tr", {},
        h("td", { text: String(r.index ?? "") }),
        h("td", { text: fmt(r.reward) }),
        h("td", { text: r.passed == null ? "" : r.passed ? "✓" : "✗" }),
        ...subKeys.map((k) => h("td", { text: fmt(subs[k]) })),
        h("td", { class: "rft-jm-output", title: r.output || "", text: (r.output || "").slice(0, 160) }),
        h("td", { text: r.error || "" })));
    }
    evals.append(table);
  }

  function drawCkpts() {
    const list = [...st.ckpts.values()].sort((a, b) => (a.step ?? 0) - (b.step ?? 0));
    ckpts.replaceChildren();
    if (!list.length) return;
    const table = h("table", { class: "rft-jm-ckpt-table" },
      h("tr", {}, ...["checkpoint", "step", "valid reward", "train reward"].map(
        (t) => h("th", { text: t }))));
    for (const c of list) {
      table.append(h("tr", { "data-ckpt": c.id }, h("td", { text: c.model || c.path || c.id,
        class: "rft-jm-output" }),
        h("td", { text: String(c.step ?? "") }), h("td", { text: fmt(c.valid_reward_mean) }),
        h("td", { text: fmt(c.train_reward_mean) })));
    }
    ckpts.append(h("b", { text: "Checkpoints" }), table);
  }

  function drawMessages() {
    const last = st.messages.slice(-6);
    messages.replaceChildren(...last.map((m) => h("div", { class: `rft-jm-msg rft-jm-${m.level}`,
      text: m.text })));
  }

  function draw() {
    drawHead();
    const byGroup = new Map();
    for (const [col, entry] of st.series) {
      if (!entry.group || !entry.pts.size) continue;
      if (!byGroup.has(entry.group)) byGroup.set(entry.group, []);
      byGroup.get(entry.group).push([col, entry]);
    }
    panels.replaceChildren(...GROUPS.filter((g) => byGroup.has(g)).map((g) =>
      drawPanel(g, byGroup.get(g))));
    drawEvals();
    drawCkpts();
    drawMessages();
  }

  function onMsg(msg) {
    if (!msg || typeof msg !== "object") return;
    if (msg.kind === "delta") {
      if (typeof msg.from === "number" && msg.from > st.seq) {
        model.send({ kind: "resync", seq: st.seq });
      }
      applyPayload(st, msg);
      schedule();
    } else if (msg.kind === "eval_samples") {
      st.samples.set(msg.run, msg.rows || []);
      schedule();
    }
  }

  function onBase() {
    applyPayload(st, model.get("base"));
    schedule();
  }

  onBase();
  model.on("msg:custom", onMsg);
  model.on("change:base", onBase);
  model.on("change:status", schedule);
  model.on("change:frozen", schedule);
  const timer = setInterval(drawHead, 1000);
  if (!model.get("frozen")) model.send({ kind: "hello", seq: st.seq });
  return () => {
    clearInterval(timer);
    if (frame) cancelAnimationFrame(frame);
    model.off("msg:custom", onMsg);
    model.off("change:base", onBase);
    model.off("change:status", schedule);
    model.off("change:frozen", schedule);
  };
}

export default { render };
