/** Sorting and filtering of saved rows (pure functions, shared by the two renderers). */

export type CellKind = 'number' | 'integer' | 'text' | 'label' | 'status' | 'bool' | string;
export type Direction = 'ascending' | 'descending';

export interface IColumn {
  key: string;
  label: string;
  kind: CellKind;
  title?: string;
  sortable?: boolean;
}

export type Cells = Record<string, unknown>;

function isMissing(value: unknown): boolean {
  return (
    value === null ||
    value === undefined ||
    value === '' ||
    (typeof value === 'number' && Number.isNaN(value))
  );
}

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

/** Compare two cell values of a column's kind; missing values compare as null. */
export function compareCells(kind: CellKind, a: unknown, b: unknown): number {
  if (kind === 'number' || kind === 'integer' || kind === 'bool') {
    return Number(a) - Number(b);
  }
  return collator.compare(String(a), String(b));
}

/**
 * Rows sorted by `key` in `direction` (stable); rows without a value go last either way.
 */
export function sortRows<T>(
  rows: ReadonlyArray<T>,
  cells: (row: T) => Cells,
  column: IColumn,
  direction: Direction
): T[] {
  const sign = direction === 'ascending' ? 1 : -1;
  return rows
    .map((row, index) => ({ row, index, value: cells(row)[column.key] }))
    .sort((x, y) => {
      const mx = isMissing(x.value);
      const my = isMissing(y.value);
      if (mx || my) {
        return mx === my ? x.index - y.index : mx ? 1 : -1;
      }
      return sign * compareCells(column.kind, x.value, y.value) || x.index - y.index;
    })
    .map(entry => entry.row);
}

/** The text a cell shows: numbers with 4 decimals, unscored rows as "unscored (reason)". */
export function cellText(kind: CellKind, value: unknown): string {
  if (isMissing(value)) {
    return kind === 'number' && typeof value === 'number' ? '–' : '';
  }
  if (kind === 'integer' && typeof value === 'number') {
    return Math.round(value).toLocaleString('en-US');
  }
  if (kind === 'number' && typeof value === 'number') {
    return Number.isInteger(value) && Math.abs(value) >= 1000
      ? value.toLocaleString('en-US')
      : value.toFixed(4);
  }
  if (kind === 'bool') {
    return value ? 'yes' : 'no';
  }
  if (kind === 'status') {
    return `unscored (${String(value)})`;
  }
  return String(value);
}

/** Rows whose cells contain every word of `query` (case-insensitive). */
export function filterRows<T>(
  rows: ReadonlyArray<T>,
  cells: (row: T) => Cells,
  columns: ReadonlyArray<IColumn>,
  query: string
): T[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (!words.length) {
    return rows.slice();
  }
  return rows.filter(row => {
    const c = cells(row);
    const hay = columns.map(col => cellText(col.kind, c[col.key]).toLowerCase()).join('\u0000');
    return words.every(w => hay.includes(w));
  });
}
