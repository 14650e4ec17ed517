/**
 * The saved job snapshot (`application/vnd.rft-jupyter.job+json`): one SVG chart per metric
 * group with a hover readout, and sortable tables of eval runs, checkpoints and the last eval
 * run's samples.
 */

import { IColumn } from './sort';
import { SortableTable, el } from './table';

export const JOB_MIME = 'application/vnd.rft-jupyter.job+json';

export interface ISeries {
  group: string | null;
  label: string;
  points: [number, number][];
  thinned?: boolean;
}

export interface IJobData {
  version: number;
  job: Record<string, string | number | boolean>;
  source: string;
  status: string;
  step: number | null;
  total_steps: number | null;
  elapsed: number | null;
  cost: { spent: number } | null;
  series: Record<string, ISeries>;
  eval_runs: {
    step: number | null;
    reward_mean: number | null;
    n: number;
    status: string;
    samples?: Record<string, unknown>[];
  }[];
  checkpoints: Record<string, unknown>[];
  notices: string[];
  messages?: { time: number; level: string; text: string }[];
}

/** Chart groups in display order, with their titles (as the Python side names them). */
export const GROUPS: [string, string][] = [
  ['reward', 'Reward'],
  ['graders', 'Per-grader reward'],
  ['tokens', 'Tokens'],
  ['errors', 'Error rates']
];

const NS = 'http://www.w3.org/2000/svg';
const WIDTH = 420;
const HEIGHT = 170;
const PAD = { left: 44, right: 10, top: 8, bottom: 22 };

/** A one-line reason why `data` cannot be shown, or null when it can. */
export function jobProblem(data: unknown): string | null {
  const d = data as IJobData | null;
  if (!d || typeof d !== 'object') {
    return 'the saved job snapshot is not an object';
  }
  if (d.version !== 1) {
    return `saved job snapshot version ${String(d.version)} is not supported (expected 1)`;
  }
  if (!d.series || typeof d.series !== 'object') {
    return 'the saved job snapshot has no series';
  }
  return null;
}

/** Round tick values covering [lo, hi]. */
export function ticks(lo: number, hi: number, count = 4): number[] {
  if (!(hi > lo)) {
    return [lo];
  }
  const raw = (hi - lo) / count;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map(m => m * mag).find(s => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
    out.push(Number(v.toPrecision(12)));
  }
  return out;
}

/** The fewest decimals (up to 4) that write every y tick of [lo, hi] exactly. */
export function tickDigits(lo: number, hi: number): number {
  const all = ticks(lo, hi);
  for (let d = 0; d < 4; d++) {
    const scale = Math.pow(10, d);
    if (all.every(t => Math.abs(Math.round(t * scale) - t * scale) < 1e-6)) {
      return d;
    }
  }
  return 4;
}

function fmt(value: number | null | undefined, digits = 4): string {
  if (value === null || value === undefined || !Number.isFinite(value)) {
    return '–';
  }
  return Math.abs(value) >= 1000 ? Math.round(value).toLocaleString('en-US') : value.toFixed(digits);
}

function svgEl(tag: string, attrs: Record<string, string | number>): SVGElement {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    node.setAttribute(k, String(v));
  }
  return node;
}

/** One chart: axes, ticks, one polyline per series, eval-run markers and a hover readout. */
export function renderChart(
  title: string,
  series: [string, ISeries][],
  evalSteps: number[]
): HTMLDivElement {
  const box = el('div', 'rft-saved-chart');
  box.appendChild(el('div', 'rft-saved-chart-title', title));
  const all = series.flatMap(([, s]) => s.points);
  const xs = all.map(p => p[0]);
  const ys = all.map(p => p[1]);
  let [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (x0 === x1) {
    [x0, x1] = [x0 - 1, x1 + 1];
  }
  if (y0 === y1) {
    [y0, y1] = [y0 - 0.5, y1 + 0.5];
  }
  const sx = (x: number) => PAD.left + ((x - x0) / (x1 - x0)) * (WIDTH - PAD.left - PAD.right);
  const sy = (y: number) => HEIGHT - PAD.bottom - ((y - y0) / (y1 - y0)) * (HEIGHT - PAD.top - PAD.bottom);
  const svg = svgEl('svg', {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    width: WIDTH,
    height: HEIGHT,
    role: 'img',
    'aria-label': title
  }) as SVGSVGElement;
  for (const t of ticks(y0, y1)) {
    svg.appendChild(svgEl('line', { class: 'rft-grid', x1: PAD.left, x2: WIDTH - PAD.right, y1: sy(t), y2: sy(t) }));
    const label = svgEl('text', { class: 'rft-tick', x: PAD.left - 4, y: sy(t) + 3, 'text-anchor': 'end' });
    label.textContent = fmt(t, tickDigits(y0, y1));
    svg.appendChild(label);
  }
  for (const t of ticks(x0, x1, 5)) {
    const label = svgEl('text', { class: 'rft-tick', x: sx(t), y: HEIGHT - 6, 'text-anchor': 'middle' });
    label.textContent = String(t);
    svg.appendChild(label);
  }
  for (const step of evalSteps) {
    if (step >= x0 && step <= x1) {
      svg.appendChild(svgEl('line', { class: 'rft-eval-marker', x1: sx(step), x2: sx(step), y1: PAD.top, y2: HEIGHT - PAD.bottom }));
    }
  }
  const legend = el('div', 'rft-saved-legend');
  series.forEach(([column, s], i) => {
    const d = s.points.map((p, j) => `${j ? 'L' : 'M'}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join('');
    const path = svgEl('path', { class: `rft-line rft-color-${i % 8}`, d, 'data-column': column });
    svg.appendChild(path);
    const item = el('span', `rft-legend-item rft-color-${i % 8}`, s.label);
    item.title = column;
    legend.appendChild(item);
  });
  const cursor = svgEl('line', { class: 'rft-cursor', x1: 0, x2: 0, y1: PAD.top, y2: HEIGHT - PAD.bottom, visibility: 'hidden' });
  svg.appendChild(cursor);
  const readout = el('div', 'rft-saved-readout', ' ');
  svg.addEventListener('mousemove', (event: MouseEvent) => {
    const rect = svg.getBoundingClientRect();
    const x = x0 + ((event.clientX - rect.left) * (WIDTH / rect.width) - PAD.left) / (WIDTH - PAD.left - PAD.right) * (x1 - x0);
    readout.textContent = readoutAt(series, x);
    cursor.setAttribute('x1', String(sx(Math.min(Math.max(x, x0), x1))));
    cursor.setAttribute('x2', cursor.getAttribute('x1')!);
    cursor.setAttribute('visibility', 'visible');
  });
  svg.addEventListener('mouseleave', () => cursor.setAttribute('visibility', 'hidden'));
  box.appendChild(svg);
  box.appendChild(legend);
  box.appendChild(el('div', 'rft-saved-readout-line')).appendChild(readout);
  readout.textContent = readoutAt(series, x1);
  return box;
}

/** "step N · label value · …" at the step nearest to `x` in each series. */
export function readoutAt(series: [string, ISeries][], x: number): string {
  let step: number | null = null;
  const parts: string[] = [];
  for (const [, s] of series) {
    if (!s.points.length) {
      continue;
    }
    let best = s.points[0];
    for (const p of s.points) {
      if (Math.abs(p[0] - x) < Math.abs(best[0] - x)) {
        best = p;
      }
    }
    step = step ?? best[0];
    parts.push(`${s.label} ${fmt(best[1])}`);
  }
  return step === null ? '' : `step ${step} · ${parts.join(' · ')}`;
}

function headerLine(data: IJobData): string {
  const info = data.job;
  const parts = [String(info.id ?? 'job'), data.source];
  if (info.model) {
    parts.push(String(info.model));
  }
  parts.push(`status ${data.status}`);
  if (data.step !== null && data.step !== undefined) {
    parts.push(`step ${data.step}${data.total_steps ? `/${data.total_steps}` : ''}`);
  }
  if (data.elapsed !== null && data.elapsed !== undefined) {
    const s = Math.round(data.elapsed);
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    parts.push(`elapsed ${h ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(s % 60).padStart(2, '0')}s`}`);
  }
  if (data.cost) {
    parts.push(`cost ≈ $${data.cost.spent.toFixed(2)}`);
  }
  return parts.join(' · ');
}

const EVAL_COLUMNS: IColumn[] = [
  { key: 'step', label: 'step', kind: 'integer' },
  { key: 'reward_mean', label: 'mean reward', kind: 'number' },
  { key: 'n', label: 'samples', kind: 'integer' },
  { key: 'status', label: 'status', kind: 'text' }
];

const SAMPLE_COLUMNS: IColumn[] = [
  { key: 'index', label: '#', kind: 'label' },
  { key: 'reward', label: 'reward', kind: 'number' },
  { key: 'output', label: 'output', kind: 'text' },
  { key: 'error', label: 'error', kind: 'text' }
];

function checkpointColumns(rows: Record<string, unknown>[]): IColumn[] {
  const keys = new Set(rows.flatMap(r => Object.keys(r)));
  const preferred: IColumn[] = [
    { key: 'step', label: 'step', kind: 'integer' },
    { key: 'valid_reward_mean', label: 'valid reward', kind: 'number' },
    { key: 'train_reward_mean', label: 'train reward', kind: 'number' }
  ];
  const cols = preferred.filter(c => keys.has(c.key));
  for (const key of ['model', 'path', 'id']) {
    if (keys.has(key)) {
      cols.push({ key, label: key === 'path' ? 'path' : key, kind: 'text' });
      break;
    }
  }
  return cols;
}

function section(node: HTMLElement, title: string, table: SortableTable): void {
  node.appendChild(el('div', 'rft-saved-section', title));
  node.appendChild(table.node);
}

/** Fill `node` with the saved job: header, notices, charts, eval runs, checkpoints. */
export function renderJob(node: HTMLElement, data: IJobData): void {
  node.textContent = '';
  node.classList.add('rft-saved', 'rft-saved-job');
  const header = el('div', 'rft-saved-header');
  header.appendChild(el('b', 'rft-saved-title', headerLine(data)));
  header.appendChild(el('span', 'rft-saved-badge', 'saved'));
  node.appendChild(header);
  for (const notice of data.notices ?? []) {
    node.appendChild(el('div', 'rft-saved-note rft-tone-warn', `⚠ ${notice}`));
  }
  const evalSteps = (data.eval_runs ?? [])
    .map(r => r.step)
    .filter((s): s is number => typeof s === 'number');
  const charts = el('div', 'rft-saved-charts');
  for (const [group, title] of GROUPS) {
    const members = Object.entries(data.series)
      .filter(([, s]) => s.group === group && s.points.length)
      .sort((a, b) => a[1].label.localeCompare(b[1].label));
    if (members.length) {
      charts.appendChild(renderChart(title, members, evalSteps));
    }
  }
  if (!charts.childElementCount) {
    charts.appendChild(el('div', 'rft-saved-note', 'no metrics were recorded'));
  }
  node.appendChild(charts);
  const runs = data.eval_runs ?? [];
  if (runs.length) {
    section(
      node,
      'Eval runs',
      new SortableTable(
        EVAL_COLUMNS,
        runs.map(r => ({ cells: r as unknown as Record<string, unknown> })),
        { filter: false }
      )
    );
    const last = runs[runs.length - 1];
    if (last.samples?.length) {
      section(
        node,
        `Samples of the eval run at step ${last.step ?? '–'}`,
        new SortableTable(
          SAMPLE_COLUMNS,
          last.samples.map(s => ({ cells: s, tone: s.error ? 'error' : '' }))
        )
      );
    }
  }
  if (data.checkpoints?.length) {
    section(
      node,
      'Checkpoints',
      new SortableTable(
        checkpointColumns(data.checkpoints),
        data.checkpoints.map(c => ({ cells: c })),
        { filter: false }
      )
    );
  }
}
