/**
 * The MIME renderer of saved results. It always draws the saved table or chart first; when the
 * same output also carries a widget view whose model is alive in the kernel, the live widget
 * takes over (and the saved view comes back if the kernel goes away).
 */

import { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Panel, Widget } from '@lumino/widgets';

import { IJobData, JOB_MIME, jobProblem, renderJob } from './job';
import { IScoresData, SCORES_MIME, renderScores, scoresProblem } from './scores';

export const WIDGET_MIME = 'application/vnd.jupyter.widget-view+json';
export const MIME_TYPES = [SCORES_MIME, JOB_MIME];

/** Draw the saved payload of `mimeType` into `node`; returns a problem line or null. */
export function renderSaved(node: HTMLElement, mimeType: string, data: unknown): string | null {
  const problem = mimeType === SCORES_MIME ? scoresProblem(data) : jobProblem(data);
  if (problem) {
    return problem;
  }
  if (mimeType === SCORES_MIME) {
    renderScores(node, data as IScoresData);
  } else {
    renderJob(node, data as IJobData);
  }
  return null;
}

interface IWidgetView {
  model?: {
    comm_live?: boolean;
    on?: (event: string, callback: () => void) => void;
  };
}

/** Whether a widget renderer holds a view whose model talks to a live kernel. */
function liveView(renderer: Widget): IWidgetView | null {
  const children = renderer instanceof Panel ? renderer.widgets : [];
  for (const child of children) {
    const view = (child as unknown as { _view?: IWidgetView })._view;
    if (view?.model?.comm_live) {
      return view;
    }
  }
  return null;
}

export class SavedResultRenderer extends Panel implements IRenderMime.IRenderer {
  private readonly saved = new Widget();
  private live: (Widget & IRenderMime.IRenderer) | null = null;
  private observer: MutationObserver | null = null;
  private readonly watched = new WeakSet<IWidgetView>();

  constructor(
    private readonly options: IRenderMime.IRendererOptions,
    private readonly widgetFactory: () => IRenderMime.IRendererFactory | undefined = () =>
      undefined
  ) {
    super();
    this.addClass('rft-saved-output');
    this.saved.addClass('rft-saved-host');
    this.addWidget(this.saved);
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    this.dropLive();
    const mimeType = this.options.mimeType;
    const problem = renderSaved(this.saved.node, mimeType, model.data[mimeType]);
    if (problem) {
      this.saved.node.textContent = '';
      const line = document.createElement('div');
      line.className = 'rft-saved-problem';
      line.textContent = `rft-jupyter cannot show this saved result: ${problem}`;
      this.saved.node.appendChild(line);
      const text = model.data['text/plain'];
      if (typeof text === 'string') {
        const pre = document.createElement('pre');
        pre.textContent = text;
        this.saved.node.appendChild(pre);
      }
    }
    this.saved.show();
    const factory = model.trusted && model.data[WIDGET_MIME] ? this.widgetFactory() : undefined;
    if (!factory) {
      return;
    }
    const live = factory.createRenderer({ ...this.options, mimeType: WIDGET_MIME });
    live.hide();
    this.addWidget(live);
    this.live = live;
    this.observer = new MutationObserver(() => this.sync());
    this.observer.observe(live.node, { childList: true });
    try {
      await live.renderModel(model);
    } catch (err) {
      console.warn('rft-jupyter: the widget view did not render', err);
    }
    this.sync();
  }

  /** Whether the live widget is the one shown. */
  get showsLiveWidget(): boolean {
    return !!this.live && !this.live.isHidden;
  }

  /** Show the live widget when its model is alive, the saved view otherwise. */
  private sync(): void {
    if (!this.live) {
      return;
    }
    const view = liveView(this.live);
    if (view) {
      if (!this.watched.has(view)) {
        this.watched.add(view);
        view.model?.on?.('comm_live_update', () => this.sync()); // ipywidgets' event
      }
      this.live.show();
      this.saved.hide();
    } else {
      this.live.hide();
      this.saved.show();
    }
  }

  private dropLive(): void {
    this.observer?.disconnect();
    this.observer = null;
    if (this.live) {
      this.live.dispose();
      this.live = null;
    }
  }

  dispose(): void {
    this.dropLive();
    super.dispose();
  }
}

/** A renderer factory; `widgetFactory` finds the notebook's widget renderer, if any. */
export function savedResultFactory(
  widgetFactory?: () => IRenderMime.IRendererFactory | undefined
): IRenderMime.IRendererFactory {
  return {
    safe: true,
    mimeTypes: MIME_TYPES,
    defaultRank: 40,
    createRenderer: options => new SavedResultRenderer(options, widgetFactory)
  };
}
