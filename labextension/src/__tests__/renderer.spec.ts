import { readFileSync, existsSync } from 'fs';
import { join } from 'path';

import { Panel, Widget } from '@lumino/widgets';
import { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { beforeAll, describe, expect, it } from 'vitest';

import { JOB_MIME, readoutAt, tickDigits, ticks } from '../job';
import { SCORES_MIME } from '../scores';
import { SavedResultRenderer, WIDGET_MIME, savedResultFactory } from '../renderer';

/** Payloads made by the Python side (tests/labext_payloads.py, run by `make test`). */
const DIR = process.env.RFT_PAYLOADS ?? join(__dirname, '..', '..', '.payloads');
type Bundle = Record<string, any>;
let scores: Bundle;
let probe: Bundle;
let job: Bundle;

beforeAll(() => {
  const read = (name: string) => {
    const path = join(DIR, `${name}.json`);
    if (!existsSync(path)) {
      throw new Error(`${path} is missing: run python tests/labext_payloads.py ${DIR} first`);
    }
    return JSON.parse(readFileSync(path, 'utf8'));
  };
  [scores, probe, job] = ['scores', 'probe', 'job'].map(read);
});

function model(data: Bundle, trusted = true): IRenderMime.IMimeModel {
  return { data, metadata: {}, trusted, setData: () => undefined } as unknown as IRenderMime.IMimeModel;
}

async function render(mimeType: string, data: Bundle, factory?: () => IRenderMime.IRendererFactory | undefined) {
  const renderer = new SavedResultRenderer({ mimeType } as IRenderMime.IRendererOptions, factory);
  Widget.attach(renderer, document.body);
  await renderer.renderModel(model(data));
  return renderer;
}

const column = (node: HTMLElement, key: string) => {
  const heads = [...node.querySelectorAll('thead th')] as HTMLElement[];
  const i = heads.findIndex(th => th.dataset.key === key);
  expect(i, `column ${key}`).toBeGreaterThanOrEqual(0);
  return [...node.querySelectorAll('tbody tr:not(.rft-saved-detail)')].map(
    tr => (tr as HTMLTableRowElement).cells[i].textContent
  );
};

describe('saved score table', () => {
  it('shows every saved row with the summary and unscored reasons', async () => {
    const r = await render(SCORES_MIME, scores);
    const payload = scores[SCORES_MIME];
    const node = r.node;
    expect(node.querySelector('.rft-saved-title')?.textContent).toBe(payload.title);
    expect(node.querySelectorAll('tbody tr').length).toBe(payload.rows.length);
    expect(payload.rows.length).toBe(12);
    const labels = [...node.querySelectorAll('.rft-saved-card-label')].map(n => n.textContent);
    expect(labels).toContain('mean reward');
    expect(column(node, 'status')).toContain('unscored (invalid_variable_error)');
    expect(node.querySelectorAll('.rft-saved-histogram rect').length).toBe(
      payload.summary.histogram.counts.length
    );
    r.dispose();
  });

  it('sorts by a clicked header, both ways, and filters', async () => {
    const r = await render(SCORES_MIME, scores);
    const node = r.node;
    const rewards = scores[SCORES_MIME].rows.map((row: any) => Number((row.cells.reward as number).toFixed(4)));
    const button = node.querySelector('th[data-key="reward"] button') as HTMLButtonElement;
    button.click();
    expect(node.querySelector('th[data-key="reward"]')?.getAttribute('aria-sort')).toBe('ascending');
    const up = column(node, 'reward').map(Number);
    expect(up).toEqual([...rewards].sort((a, b) => a - b));
    button.click();
    const down = column(node, 'reward').map(Number);
    expect(down).toEqual([...rewards].sort((a, b) => b - a));
    const filter = node.querySelector('.rft-saved-filter') as HTMLInputElement;
    filter.value = 'berlin';
    filter.dispatchEvent(new Event('input'));
    expect(column(node, 'output')).toEqual(['berlin']);
    expect(node.querySelector('.rft-saved-count')?.textContent).toBe('1 of 12 rows');
    r.dispose();
  });

  it('expands a row to show every cell in full', async () => {
    const r = await render(SCORES_MIME, scores);
    const first = r.node.querySelector('tbody tr') as HTMLTableRowElement;
    first.click();
    const detail = r.node.querySelector('.rft-saved-detail');
    expect(detail?.textContent).toContain('reference');
    first.click();
    expect(r.node.querySelector('.rft-saved-detail')).toBeNull();
    r.dispose();
  });

  it('shows probe tables (flags as yes/no) the same way', async () => {
    const r = await render(SCORES_MIME, probe);
    const payload = probe[SCORES_MIME];
    expect(payload.kind).toBe('probe');
    expect(r.node.querySelectorAll('tbody tr').length).toBe(payload.rows.length);
    expect(new Set(column(r.node, 'flagged'))).toEqual(
      new Set(payload.rows.map((row: any) => (row.cells.flagged ? 'yes' : 'no')))
    );
    r.dispose();
  });

  it('says in one line what is wrong with a bad payload and keeps the text', async () => {
    const r = await render(SCORES_MIME, { [SCORES_MIME]: { version: 9 }, 'text/plain': 'plain' });
    expect(r.node.querySelector('.rft-saved-problem')?.textContent).toBe(
      'rft-jupyter cannot show this saved result: saved score table version 9 is not supported (expected 1)'
    );
    expect(r.node.querySelector('pre')?.textContent).toBe('plain');
    r.dispose();
  });
});

describe('saved job snapshot', () => {
  it('draws one chart per metric group with every point', async () => {
    const r = await render(JOB_MIME, job);
    const payload = job[JOB_MIME];
    const titles = [...r.node.querySelectorAll('.rft-saved-chart-title')].map(n => n.textContent);
    expect(titles).toEqual(['Reward', 'Per-grader reward', 'Tokens']);
    const reward = r.node.querySelector('.rft-saved-chart') as HTMLElement;
    const paths = [...reward.querySelectorAll('path.rft-line')] as SVGPathElement[];
    const drawn = Object.entries(payload.series).filter(([, s]: any) => s.group === 'reward');
    expect(paths.length).toBe(drawn.length);
    for (const path of paths) {
      const series = payload.series[path.dataset.column!];
      expect(path.getAttribute('d')!.split(/[ML]/).filter(Boolean).length).toBe(series.points.length);
    }
    expect(reward.querySelectorAll('.rft-eval-marker').length).toBe(1);
    expect(r.node.querySelector('.rft-saved-title')?.textContent).toContain('status succeeded');
    expect(r.node.querySelector('.rft-saved-title')?.textContent).toContain('step 20/20');
    r.dispose();
  });

  it('lists eval runs, their samples and checkpoints in sortable tables', async () => {
    const r = await render(JOB_MIME, job);
    const sections = [...r.node.querySelectorAll('.rft-saved-section')].map(n => n.textContent);
    expect(sections).toEqual(['Eval runs', 'Samples of the eval run at step 5', 'Checkpoints']);
    const tables = [...r.node.querySelectorAll('.rft-saved-table')] as HTMLElement[];
    expect(column(tables[1], 'error')).toEqual(['', 'sample_parse_error']);
    (tables[1].querySelector('th[data-key="reward"] button') as HTMLButtonElement).click();
    expect(column(tables[1], 'reward')).toEqual(['0.0000', '1.0000']);
    expect(column(tables[2], 'model')).toEqual(['ft:o4-mini:ckpt-step-5']);
    expect(column(tables[0], 'step')).toEqual(['5']);
    expect(column(tables[0], 'n')).toEqual(['2']);
    expect(tables[0].querySelector('.rft-saved-count')?.textContent).toBe('1 row');
    r.dispose();
  });

  it('reads values at a step and makes round ticks', () => {
    const series: any = [['a', { group: 'reward', label: 'train', points: [[1, 0.1], [5, 0.5]] }]];
    expect(readoutAt(series, 4.2)).toBe('step 5 · train 0.5000');
    expect(ticks(0, 1)).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(ticks(3, 3)).toEqual([3]);
    expect(tickDigits(100, 120)).toBe(0);
    expect(tickDigits(0, 0.6)).toBe(1);
    expect(tickDigits(0, 1)).toBe(2);
    expect(tickDigits(0.1, 0.13)).toBe(2);
  });
});

/** What ipywidgets' views hold: a model whose `comm_live` setter triggers an event. */
class FakeModel {
  private listeners: (() => void)[] = [];
  constructor(private live: boolean) {}
  get comm_live() {
    return this.live;
  }
  set comm_live(value: boolean) {
    this.live = value;
    this.listeners.forEach(f => f());
  }
  on(event: string, callback: () => void) {
    if (event === 'comm_live_update') {
      this.listeners.push(callback);
    }
  }
}

/** A stand-in for ipywidgets' renderer: a panel holding a view whose model is live or not. */
function widgetFactory(live: boolean, models: FakeModel[] = []): IRenderMime.IRendererFactory {
  return {
    safe: false,
    mimeTypes: [WIDGET_MIME],
    createRenderer: () => {
      const panel = new Panel() as Panel & IRenderMime.IRenderer;
      panel.renderModel = async () => {
        const child = new Widget();
        const fake = new FakeModel(live);
        models.push(fake);
        (child as any)._view = { model: fake };
        child.node.textContent = 'live widget';
        panel.addWidget(child);
      };
      return panel;
    }
  };
}

describe('live widgets and saved views', () => {
  const withWidget = () => ({ ...scores, [WIDGET_MIME]: { model_id: 'abc', version_major: 2 } });

  it('lets a live widget take over, and takes back when its kernel goes', async () => {
    const models: FakeModel[] = [];
    const r = await render(SCORES_MIME, withWidget(), () => widgetFactory(true, models));
    expect(r.showsLiveWidget).toBe(true);
    expect((r.widgets[0] as Widget).isHidden).toBe(true);
    models[0].comm_live = false; // what ipywidgets does when the kernel restarts
    expect(r.showsLiveWidget).toBe(false);
    expect((r.widgets[0] as Widget).isHidden).toBe(false);
  });

  it('keeps the saved table when the widget model is not live (reopened notebook)', async () => {
    const r = await render(SCORES_MIME, withWidget(), () => widgetFactory(false));
    expect(r.showsLiveWidget).toBe(false);
    expect((r.widgets[0] as Widget).isHidden).toBe(false);
    expect(r.node.querySelectorAll('tbody tr').length).toBe(12);
  });

  it('never runs a widget for an untrusted output', async () => {
    const renderer = new SavedResultRenderer(
      { mimeType: SCORES_MIME } as IRenderMime.IRendererOptions,
      () => widgetFactory(true)
    );
    Widget.attach(renderer, document.body);
    await renderer.renderModel(model(withWidget(), false));
    expect(renderer.showsLiveWidget).toBe(false);
    expect(renderer.widgets.length).toBe(1);
  });

  it('is a safe factory for both mime types', () => {
    const f = savedResultFactory();
    expect(f.safe).toBe(true);
    expect(f.mimeTypes).toEqual([SCORES_MIME, JOB_MIME]);
  });
});
