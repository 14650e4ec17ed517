/** A sortable, filterable table of saved rows, built from plain DOM. */

import { Cells, Direction, IColumn, cellText, filterRows, sortRows } from './sort';

export interface ITableRow {
  cells: Cells;
  /** "error" / "warn" / "ok" / "": colours the row. */
  tone?: string;
}

export interface ITableOptions {
  /** Shown above the table, e.g. "200 of 10,000 rows saved in the notebook". */
  caption?: string;
  /** Show a filter box (default true). */
  filter?: boolean;
}

/** Make an element with a class and optional text. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className?: string,
  text?: string
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

/** A table whose headers sort on click and whose rows expand to show every cell in full. */
export class SortableTable {
  readonly node: HTMLDivElement;
  private readonly body: HTMLTableSectionElement;
  private readonly count: HTMLSpanElement;
  private readonly heads = new Map<string, HTMLTableCellElement>();
  private sortKey: string | null = null;
  private direction: Direction = 'ascending';
  private query = '';

  constructor(
    private readonly columns: IColumn[],
    private readonly rows: ITableRow[],
    options: ITableOptions = {}
  ) {
    this.node = el('div', 'rft-saved-table');
    const bar = el('div', 'rft-saved-table-bar');
    if (options.filter !== false) {
      const input = el('input', 'rft-saved-filter');
      input.type = 'search';
      input.placeholder = 'filter rows';
      input.setAttribute('aria-label', 'filter rows');
      input.addEventListener('input', () => {
        this.query = input.value;
        this.refresh();
      });
      bar.appendChild(input);
    }
    this.count = el('span', 'rft-saved-count');
    bar.appendChild(this.count);
    if (options.caption) {
      bar.appendChild(el('span', 'rft-saved-caption', options.caption));
    }
    this.node.appendChild(bar);

    const table = el('table', 'rft-saved-grid');
    const head = table.createTHead().insertRow();
    for (const column of columns) {
      const th = el('th');
      th.dataset.key = column.key;
      th.dataset.kind = column.kind;
      if (column.title) {
        th.title = column.title;
      }
      if (column.sortable === false) {
        th.textContent = column.label;
      } else {
        const button = el('button', 'rft-sort', column.label);
        button.type = 'button';
        button.addEventListener('click', () => this.sortBy(column.key));
        th.appendChild(button);
        th.setAttribute('aria-sort', 'none');
      }
      head.appendChild(th);
      this.heads.set(column.key, th);
    }
    this.body = table.createTBody();
    const scroller = el('div', 'rft-saved-scroll');
    scroller.appendChild(table);
    this.node.appendChild(scroller);
    this.refresh();
  }

  /** Sort by a column: a first click sorts ascending, the next one descending, and so on. */
  sortBy(key: string, direction?: Direction): void {
    if (direction) {
      this.direction = direction;
    } else if (this.sortKey === key) {
      this.direction = this.direction === 'ascending' ? 'descending' : 'ascending';
    } else {
      this.direction = 'ascending';
    }
    this.sortKey = key;
    for (const [k, th] of this.heads) {
      if (th.hasAttribute('aria-sort')) {
        th.setAttribute('aria-sort', k === key ? this.direction : 'none');
      }
    }
    this.refresh();
  }

  /** Keep the rows whose cells contain every word of `query`. */
  filter(query: string): void {
    this.query = query;
    this.refresh();
  }

  /** The rows in the order shown. */
  visibleRows(): ITableRow[] {
    let rows = filterRows(this.rows, r => r.cells, this.columns, this.query);
    const column = this.columns.find(c => c.key === this.sortKey);
    if (column) {
      rows = sortRows(rows, r => r.cells, column, this.direction);
    }
    return rows;
  }

  private refresh(): void {
    const rows = this.visibleRows();
    this.body.textContent = '';
    for (const row of rows) {
      const tr = this.body.insertRow();
      tr.className = row.tone ? `rft-tone-${row.tone}` : '';
      tr.tabIndex = 0;
      for (const column of this.columns) {
        const td = tr.insertCell();
        const text = cellText(column.kind, row.cells[column.key]);
        td.textContent = text;
        td.dataset.kind = column.kind;
        if (text.length > 60) {
          td.title = text;
        }
      }
      const toggle = () => this.toggleDetail(tr, row);
      tr.addEventListener('click', toggle);
      tr.addEventListener('keydown', event => {
        if (event.key === 'Enter') {
          toggle();
        }
      });
    }
    const shown = rows.length === this.rows.length ? '' : `${rows.length} of `;
    this.count.textContent = `${shown}${this.rows.length} row${this.rows.length === 1 ? '' : 's'}`;
  }

  private toggleDetail(tr: HTMLTableRowElement, row: ITableRow): void {
    const next = tr.nextElementSibling;
    if (next && next.classList.contains('rft-saved-detail')) {
      next.remove();
      tr.classList.remove('rft-expanded');
      return;
    }
    const detail = el('tr', 'rft-saved-detail');
    const td = el('td');
    td.colSpan = this.columns.length;
    const list = el('dl');
    for (const column of this.columns) {
      list.appendChild(el('dt', undefined, column.label));
      list.appendChild(el('dd', undefined, cellText(column.kind, row.cells[column.key])));
    }
    td.appendChild(list);
    detail.appendChild(td);
    tr.after(detail);
    tr.classList.add('rft-expanded');
  }
}
