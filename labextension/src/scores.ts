/** The saved score table (`application/vnd.rft-jupyter.scores+json`) as a sortable table. */

import { IColumn } from './sort';
import { SortableTable, el } from './table';

export const SCORES_MIME = 'application/vnd.rft-jupyter.scores+json';

export interface IScoresData {
  version: number;
  kind?: string;
  title?: string;
  total: number;
  columns: IColumn[];
  summary?: {
    cards?: { label: string; value: string; sub?: string; tone?: string; title?: string }[];
    chips?: { label: string; count: number; tone?: string }[];
    note?: string;
    note_tone?: string;
    histogram?: { edges: number[]; counts: number[]; label?: string };
  };
  rows: { pos: number; cells: Record<string, unknown>; tone?: string }[];
}

/** A one-line reason why `data` cannot be shown, or null when it can. */
export function scoresProblem(data: unknown): string | null {
  const d = data as IScoresData | null;
  if (!d || typeof d !== 'object') {
    return 'the saved score table is not an object';
  }
  if (d.version !== 1) {
    return `saved score table version ${String(d.version)} is not supported (expected 1)`;
  }
  if (!Array.isArray(d.columns) || !Array.isArray(d.rows)) {
    return 'the saved score table has no columns or rows';
  }
  return null;
}

function histogram(h: NonNullable<IScoresData['summary']>['histogram']): SVGSVGElement | null {
  if (!h || !h.counts?.length) {
    return null;
  }
  const ns = 'http://www.w3.org/2000/svg';
  const width = 160;
  const height = 28;
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('class', 'rft-saved-histogram');
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('width', String(width));
  svg.setAttribute('height', String(height));
  const title = document.createElementNS(ns, 'title');
  const lo = h.edges[0];
  const hi = h.edges[h.edges.length - 1];
  title.textContent = `${h.label ?? 'histogram'} (${lo} to ${hi})`;
  svg.appendChild(title);
  const max = Math.max(...h.counts, 1);
  const w = width / h.counts.length;
  h.counts.forEach((count, i) => {
    const bar = document.createElementNS(ns, 'rect');
    const bh = count ? Math.max(1, (count / max) * height) : 0;
    bar.setAttribute('x', String(i * w + 0.5));
    bar.setAttribute('y', String(height - bh));
    bar.setAttribute('width', String(Math.max(w - 1, 1)));
    bar.setAttribute('height', String(bh));
    svg.appendChild(bar);
  });
  return svg;
}

/** Fill `node` with the saved score table: title, summary cards, histogram, table. */
export function renderScores(node: HTMLElement, data: IScoresData): SortableTable {
  node.textContent = '';
  node.classList.add('rft-saved', 'rft-saved-scores');
  const header = el('div', 'rft-saved-header');
  header.appendChild(el('b', 'rft-saved-title', data.title || 'scores'));
  header.appendChild(el('span', 'rft-saved-badge', 'saved'));
  node.appendChild(header);

  const summary = data.summary ?? {};
  const cards = el('div', 'rft-saved-cards');
  for (const card of summary.cards ?? []) {
    const c = el('span', `rft-saved-card${card.tone ? ` rft-tone-${card.tone}` : ''}`);
    if (card.title) {
      c.title = card.title;
    }
    c.appendChild(el('span', 'rft-saved-card-label', card.label));
    c.appendChild(el('b', 'rft-saved-card-value', card.value));
    if (card.sub) {
      c.appendChild(el('small', undefined, ` (${card.sub})`));
    }
    cards.appendChild(c);
  }
  const hist = histogram(summary.histogram);
  if (hist) {
    cards.appendChild(hist);
  }
  node.appendChild(cards);
  if (summary.chips?.length) {
    node.appendChild(
      el(
        'div',
        'rft-saved-chips',
        'unscored by flag: ' + summary.chips.map(c => `${c.label} ${c.count}`).join(', ')
      )
    );
  }
  if (summary.note) {
    node.appendChild(
      el('div', `rft-saved-note rft-tone-${summary.note_tone || 'warn'}`, summary.note)
    );
  }
  const saved = data.rows.length;
  const caption =
    saved < data.total
      ? `${saved.toLocaleString('en-US')} of ${data.total.toLocaleString('en-US')} rows ` +
        'saved in the notebook: sorting covers these; re-run the cell to browse all'
      : 'saved in the notebook';
  const table = new SortableTable(
    data.columns,
    data.rows.map(r => ({ cells: r.cells, tone: r.tone })),
    { caption }
  );
  node.appendChild(table.node);
  return table;
}
