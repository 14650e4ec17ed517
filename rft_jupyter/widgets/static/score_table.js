// rft-jupyter ScoreTable: one anywidget for a whole score table. Plain ESM, no build step.
//
// The kernel owns the rows. This view draws the summary (`meta`), the current page (`view`)
// and the expanded row (`detail`), and asks for other pages by setting `request`
// ({seq, page, page_size, sort, desc, min, max, flag, category, text}) and `selected`.

const PAGE_SIZES = [10, 25, 50, 100, 250];
const TEXT_DELAY_MS = 250;

function h(tag, props, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function fmtNumber(v, digits = 4) {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  return Number(v).toFixed(digits);
}

// replaceChildren without the null / false placeholders of optional parts
function put(parent, ...children) {
  parent.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
}

function fmtCount(n) {
  return Number(n).toLocaleString("en-US");
}

function cell(col, value, title, kind) {
  const td = h("td", { class: `rft-st-c rft-st-k-${col.kind}`, "data-key": col.key });
  if (title) td.title = title;
  if (col.kind === "number") {
    td.textContent = fmtNumber(value);
    if (typeof value === "number" && value >= 0 && value <= 1) {
      td.style.setProperty("--rft-st-bar", `${Math.round(value * 100)}%`);
      td.classList.add("rft-st-bar");
    }
  } else if (col.kind === "bool") {
    td.textContent = value === true ? "✓" : value === false ? "✗" : "–";
    td.classList.add(value === true ? "rft-st-yes" : value === false ? "rft-st-no" : "rft-st-na");
  } else if (col.kind === "status") {
    if (value) {
      td.append(h("span", { class: "rft-st-badge rft-st-badge-error", text: `unscored (${value})` }));
    }
  } else if (col.kind === "category") {
    if (value) td.append(h("span", { class: "rft-st-badge", text: value }));
  } else {
    const text = value === null || value === undefined ? "" : String(value);
    td.textContent = text;
    if (!title && text.length > 40) td.title = text;
  }
  return td;
}

function renderSections(box, detail) {
  const parts = (detail.sections || []).map((sec) => {
    const s = h("section", { class: `rft-st-sec ${sec.tone ? "rft-st-tone-" + sec.tone : ""}` });
    s.append(h("h4", { text: sec.title }));
    if (sec.kind === "pairs") {
      const dl = h("dl");
      for (const [k, v] of sec.pairs) dl.append(h("dt", { text: k }), h("dd", { text: v }));
      s.append(dl);
    } else if (sec.kind === "pairs_pre") {
      for (const [k, v] of sec.pairs) {
        s.append(h("div", { class: "rft-st-key", text: k }), h("pre", { text: v }));
      }
    } else if (sec.kind === "note") {
      s.append(h("p", { class: "rft-st-muted", text: sec.text }));
    } else {
      s.append(h("pre", { text: sec.text }));
    }
    return s;
  });
  put(box, parts);
}

function histogram(hist, onPick) {
  const counts = hist.counts;
  const max = Math.max(1, ...counts);
  const W = 220;
  const H = 44;
  const bw = W / counts.length;
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("width", W);
  svg.setAttribute("height", H);
  svg.setAttribute("class", "rft-st-hist");
  counts.forEach((c, i) => {
    const bh = c ? Math.max(1.5, (c / max) * (H - 2)) : 0;
    const r = document.createElementNS(ns, "rect");
    r.setAttribute("x", i * bw + 0.5);
    r.setAttribute("y", H - bh);
    r.setAttribute("width", Math.max(1, bw - 1));
    r.setAttribute("height", bh);
    const lo = hist.edges[i];
    const hi = hist.edges[i + 1];
    const t = document.createElementNS(ns, "title");
    t.textContent = `${fmtNumber(lo, 3)} – ${fmtNumber(hi, 3)}: ${fmtCount(c)} rows (click to filter)`;
    r.append(t);
    r.addEventListener("click", () => onPick(lo, hi));
    svg.append(r);
  });
  // a transparent strip keeps empty bins clickable
  return h(
    "div",
    { class: "rft-st-histbox" },
    svg,
    h(
      "div",
      { class: "rft-st-hist-axis" },
      h("span", { text: fmtNumber(hist.edges[0], 2) }),
      h("span", { class: "rft-st-muted", text: hist.label || "" }),
      h("span", { text: fmtNumber(hist.edges[hist.edges.length - 1], 2) }),
    ),
  );
}

function render({ model, el }) {
  const root = h("div", { class: "rft-st", tabindex: "-1" });
  el.replaceChildren(root);
  let meta = model.get("meta") || {};
  let req = { ...(model.get("request") || {}) };
  let expanded = -1;
  let textTimer = null;
  const listeners = [];
  const listen = (name, fn) => {
    model.on(name, fn);
    listeners.push([name, fn]);
  };

  const header = h("div", { class: "rft-st-header" });
  const controls = h("div", { class: "rft-st-filters" });
  const thead = h("thead");
  const tbody = h("tbody");
  const scroll = h("div", { class: "rft-st-scroll" }, h("table", { class: "rft-st-table" }, thead, tbody));
  const pager = h("div", { class: "rft-st-pager" });
  root.append(header, controls, scroll, pager);

  function send(patch) {
    const keepPage = Object.prototype.hasOwnProperty.call(patch, "page");
    req = { ...req, ...patch, seq: (req.seq || 0) + 1 };
    if (!keepPage) req.page = 0;
    model.set("request", req);
    model.save_changes();
    root.classList.add("rft-st-busy");
    syncControls();
  }

  // ------------------------------------------------------------------ summary
  function drawHeader() {
    const s = meta.summary || {};
    const cards = (s.cards || []).map((c) =>
      h(
        "div",
        { class: `rft-st-card ${c.tone ? "rft-st-tone-" + c.tone : ""}`, title: c.title || null },
        h("div", { class: "rft-st-card-label", text: c.label }),
        h("div", { class: "rft-st-card-value", text: c.value }),
        c.sub ? h("div", { class: "rft-st-card-sub", text: c.sub }) : null,
      ),
    );
    const chips = (s.chips || []).map((c) =>
      h("button", {
        class: "rft-st-chip rft-st-tone-error",
        type: "button",
        title: `show only ${c.label} rows`,
        text: `${c.label} ${fmtCount(c.count)}`,
        onclick: () => send({ category: req.category === c.value ? "" : c.value }),
      }),
    );
    const hist = s.histogram && meta.filters && meta.filters.range && s.histogram.key === meta.filters.range.key
      ? histogram(s.histogram, (lo, hi) => send({ min: lo, max: hi }))
      : s.histogram
        ? histogram(s.histogram, () => {})
        : null;
    put(
      header,
      h("div", { class: "rft-st-title" }, h("b", { text: meta.title || "" }),
        h("span", { class: "rft-st-muted", text: ` · ${fmtCount(meta.rows || 0)} rows` })),
      h("div", { class: "rft-st-summary" }, h("div", { class: "rft-st-cards" }, cards), hist),
      chips.length ? h("div", { class: "rft-st-chips" }, h("span", { class: "rft-st-muted", text: "unscored by flag:" }), chips) : null,
      s.note ? h("div", { class: `rft-st-note ${s.note_tone ? "rft-st-tone-" + s.note_tone : ""}`, text: s.note }) : null,
    );
  }

  // ------------------------------------------------------------------ filters
  const f = {};
  function drawControls() {
    const spec = meta.filters || {};
    const parts = [];
    if (spec.range) {
      const num = (key, label) => {
        f[key] = h("input", {
          type: "number", step: "any", class: "rft-st-num", placeholder: label, "aria-label": `${spec.range.label} ${label}`,
          onchange: (e) => {
            const v = e.target.value === "" ? null : Number(e.target.value);
            send({ [key]: Number.isFinite(v) ? v : null });
          },
        });
        return f[key];
      };
      parts.push(h("label", { class: "rft-st-field" }, `${spec.range.label} `, num("min", "min"), " – ", num("max", "max")));
    }
    if (spec.flag) {
      f.flag = h(
        "select",
        {
          class: "rft-st-select", "aria-label": spec.flag.label,
          onchange: (e) => send({ flag: e.target.value === "" ? null : e.target.value === "yes" }),
        },
        h("option", { value: "", text: `${spec.flag.label}: all` }),
        h("option", { value: "yes", text: spec.flag.yes }),
        h("option", { value: "no", text: spec.flag.no }),
      );
      parts.push(f.flag);
    }
    if (spec.category) {
      f.category = h(
        "select",
        { class: "rft-st-select", "aria-label": spec.category.label, onchange: (e) => send({ category: e.target.value }) },
        h("option", { value: "", text: `${spec.category.label}: all` }),
        (spec.category.options || []).map((o) => h("option", { value: o.value, text: o.label })),
      );
      parts.push(f.category);
    }
    if (spec.text) {
      f.text = h("input", {
        type: "search", class: "rft-st-search", placeholder: spec.text.placeholder || "search…", "aria-label": "search",
        oninput: (e) => {
          clearTimeout(textTimer);
          const value = e.target.value;
          textTimer = setTimeout(() => send({ text: value }), TEXT_DELAY_MS);
        },
      });
      parts.push(f.text);
    }
    parts.push(
      h("button", {
        type: "button", class: "rft-st-button", text: "clear filters",
        onclick: () => {
          if (f.text) f.text.value = "";
          send({ min: null, max: null, flag: null, category: "", text: "" });
        },
      }),
    );
    put(controls, parts);
    syncControls();
  }

  function syncControls() {
    if (f.min && document.activeElement !== f.min) f.min.value = req.min ?? "";
    if (f.max && document.activeElement !== f.max) f.max.value = req.max ?? "";
    if (f.flag) f.flag.value = req.flag === true ? "yes" : req.flag === false ? "no" : "";
    if (f.category) f.category.value = req.category || "";
    if (f.text && document.activeElement !== f.text) f.text.value = req.text || "";
  }

  // ------------------------------------------------------------------ table
  function drawHead() {
    const cols = meta.columns || [];
    const row = h("tr");
    for (const col of cols) {
      const active = req.sort === col.key;
      const arrow = active ? (req.desc ? " ▼" : " ▲") : "";
      const th = h("th", {
        class: `rft-st-k-${col.kind} ${active ? "rft-st-sorted" : ""}`,
        title: col.title || null,
        "data-key": col.key,
        "aria-sort": active ? (req.desc ? "descending" : "ascending") : null,
      });
      if (col.sortable) {
        th.append(h("button", {
          type: "button", class: "rft-st-sort", text: col.label + arrow,
          onclick: () => send({ sort: col.key, desc: active ? !req.desc : false }),
        }));
      } else {
        th.textContent = col.label;
      }
      row.append(th);
    }
    thead.replaceChildren(row);
  }

  function toggle(pos, tr) {
    const open = tbody.querySelector(".rft-st-detail-row");
    if (open) open.remove();
    tbody.querySelectorAll(".rft-st-open").forEach((r) => r.classList.remove("rft-st-open"));
    if (expanded === pos) {
      expanded = -1;
      return;
    }
    expanded = pos;
    tr.classList.add("rft-st-open");
    const box = h("div", { class: "rft-st-detail" }, h("p", { class: "rft-st-muted", text: "loading…" }));
    const dtr = h("tr", { class: "rft-st-detail-row" }, h("td", { colspan: (meta.columns || []).length }, box));
    tr.after(dtr);
    const known = model.get("detail");
    if (known && known.pos === pos) renderSections(box, known);
    if (model.get("selected") !== pos) {
      model.set("selected", pos);
      model.save_changes();
    }
  }

  function drawRows() {
    const view = model.get("view") || {};
    if ((view.seq ?? 0) >= (req.seq ?? 0)) root.classList.remove("rft-st-busy");
    const cols = meta.columns || [];
    const rows = (view.rows || []).map((r) => {
      const tr = h("tr", {
        class: `rft-st-row ${r.tone ? "rft-st-tone-" + r.tone : ""}`,
        tabindex: "0",
        "data-pos": r.pos,
      });
      for (const col of cols) tr.append(cell(col, r.cells[col.key], (r.titles || {})[col.key], meta.kind));
      const open = () => toggle(r.pos, tr);
      tr.addEventListener("click", open);
      tr.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === " ") {
          e.preventDefault();
          open();
        }
      });
      return tr;
    });
    const still = expanded;
    expanded = -1;
    tbody.replaceChildren(...rows);
    if (!rows.length) {
      tbody.append(h("tr", {}, h("td", { class: "rft-st-empty", colspan: cols.length, text: "no rows match the filters" })));
    }
    const again = rows.find((tr) => Number(tr.dataset.pos) === still);
    if (again) toggle(still, again);
    drawPager(view);
    drawHead();
  }

  function drawPager(view) {
    const total = view.total ?? 0;
    const size = view.page_size || req.page_size || 25;
    const page = view.page || 0;
    const pages = view.pages || 1;
    const first = total ? page * size + 1 : 0;
    const last = Math.min(total, (page + 1) * size);
    const filtered = total !== meta.rows ? ` (filtered from ${fmtCount(meta.rows)})` : "";
    const sortLabel = req.sort && !(meta.columns || []).some((c) => c.key === req.sort)
      ? ` · sorted by ${(meta.sort_labels || {})[req.sort] || req.sort} ${req.desc ? "▼" : "▲"}`
      : "";
    const sizes = h(
      "select",
      { class: "rft-st-select", "aria-label": "rows per page", onchange: (e) => send({ page_size: Number(e.target.value) }) },
      PAGE_SIZES.concat(PAGE_SIZES.includes(size) ? [] : [size]).map((n) => h("option", { value: n, text: `${n} / page`, selected: n === size })),
    );
    put(
      pager,
      h("button", { type: "button", class: "rft-st-button rft-st-prev", text: "‹ prev", disabled: page <= 0, onclick: () => send({ page: page - 1 }) }),
      h("span", { class: "rft-st-count", text: `rows ${fmtCount(first)}–${fmtCount(last)} of ${fmtCount(total)}${filtered}${sortLabel}` }),
      h("button", { type: "button", class: "rft-st-button rft-st-next", text: "next ›", disabled: page >= pages - 1, onclick: () => send({ page: page + 1 }) }),
      sizes,
      view.error ? h("span", { class: "rft-st-tone-error", text: view.error }) : null,
    );
  }

  function onDetail() {
    const d = model.get("detail");
    if (!d || d.pos !== expanded) return;
    const box = tbody.querySelector(".rft-st-detail-row .rft-st-detail");
    if (box) renderSections(box, d);
  }

  function onMeta() {
    meta = model.get("meta") || {};
    drawHeader();
    drawControls();
    drawRows();
  }

  function onRequest() {
    const r = model.get("request") || {};
    if ((r.seq ?? 0) > (req.seq ?? 0)) {
      req = { ...r };
      syncControls();
    }
  }

  listen("change:request", onRequest);
  listen("change:view", drawRows);
  listen("change:detail", onDetail);
  listen("change:meta", onMeta);
  onMeta();
  root.dataset.ready = "1";

  return () => {
    clearTimeout(textTimer);
    for (const [name, fn] of listeners) model.off(name, fn);
  };
}

export default { render };
