import { describe, expect, it } from 'vitest';

import { IColumn, cellText, filterRows, sortRows } from '../sort';

const reward: IColumn = { key: 'reward', label: 'reward', kind: 'number' };
const output: IColumn = { key: 'output', label: 'output', kind: 'text' };
const rows = [
  { reward: 0.5, output: 'b10' },
  { reward: null, output: 'a' },
  { reward: 1, output: 'b9' },
  { reward: 0, output: '' },
  { reward: 0.5, output: 'C' }
];

describe('sortRows', () => {
  it('sorts numbers both ways, stable, missing values last', () => {
    const up = sortRows(rows, r => r, reward, 'ascending').map(r => r.reward);
    expect(up).toEqual([0, 0.5, 0.5, 1, null]);
    const down = sortRows(rows, r => r, reward, 'descending');
    expect(down.map(r => r.reward)).toEqual([1, 0.5, 0.5, 0, null]);
    expect(down[1].output).toBe('b10'); // stable among equals
  });

  it('sorts text naturally and case-insensitively', () => {
    const up = sortRows(rows, r => r, output, 'ascending').map(r => r.output);
    expect(up).toEqual(['a', 'b9', 'b10', 'C', '']);
  });
});

describe('cellText', () => {
  it('shows unscored rows with their reason', () => {
    expect(cellText('status', 'python_grader_runtime_error')).toBe(
      'unscored (python_grader_runtime_error)'
    );
    expect(cellText('status', null)).toBe('');
    expect(cellText('number', 0.25)).toBe('0.2500');
    expect(cellText('number', 12000)).toBe('12,000');
    expect(cellText('bool', true)).toBe('yes');
  });
});

describe('filterRows', () => {
  it('keeps rows containing every word', () => {
    const cols = [reward, output];
    expect(filterRows(rows, r => r, cols, 'b').length).toBe(2);
    expect(filterRows(rows, r => r, cols, 'b 0.5000').map(r => r.output)).toEqual(['b10']);
    expect(filterRows(rows, r => r, cols, '  ').length).toBe(5);
  });
});

describe('integers', () => {
  it('shows steps and counts without decimals', () => {
    expect(cellText('integer', 5)).toBe('5');
    expect(cellText('integer', 12000)).toBe('12,000');
  });
});
