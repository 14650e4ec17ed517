/**
 * rft-jupyter's JupyterLab plugin: `%%grader` highlighting, saved results rendered without a
 * kernel, and a command (palette + notebook toolbar) that inserts a `%%grader` cell. Each feature
 * can be turned off in the settings editor ("rft-jupyter").
 */

import { LRLanguage } from "@codemirror/language";
import { Parser } from '@lezer/common';
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, InputDialog, ToolbarButton } from '@jupyterlab/apputils';
import {
  CodeMirrorEditor,
  EditorExtensionRegistry,
  IEditorExtensionRegistry,
  IEditorLanguageRegistry
} from '@jupyterlab/codemirror';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ISettingRegistry } from '@jupyterlab/settingregistry';

import { BodyKind } from './grader_cell';
import { IGraderParsers, graderHighlighting, setGraderHighlighting } from './highlight';
import { GRADER_TEMPLATES, GRADER_TYPES, insertGraderCell } from './insert';
import { MIME_TYPES, WIDGET_MIME, savedResultFactory } from './renderer';

const PLUGIN_ID = 'rft-jupyter:plugin';
const INSERT_COMMAND = 'rft-jupyter:insert-grader';
const TOOLBAR_ITEM = 'rft-insert-grader';
/** Ahead of the widget view (-10): the saved view shows until a live widget takes over. */
const NOTEBOOK_RANK = -20;

interface IFeatures {
  highlighting: boolean;
  renderSavedResults: boolean;
  insertCommand: boolean;
}

const features: IFeatures = { highlighting: true, renderSavedResults: true, insertCommand: true };

async function loadParsers(languages: IEditorLanguageRegistry): Promise<IGraderParsers | null> {
  const names: Record<BodyKind | 'outer', string> = {
    outer: 'python',
    python: 'python',
    json: 'json',
    yaml: 'yaml'
  };
  const loaded: Partial<Record<string, Parser>> = {};
  let outer: LRLanguage | null = null;
  for (const [role, name] of Object.entries(names)) {
    try {
      const lang = (await languages.getLanguage(name))?.support?.language;
      if (!lang) {
        continue;
      }
      if (role === 'outer' && 'configure' in lang) {
        outer = lang as LRLanguage;
      } else {
        loaded[role] = lang.parser;
      }
    } catch (err) {
      console.warn(`rft-jupyter: no ${name} parser for %%grader cells`, err);
    }
  }
  return outer ? { outer, body: loaded } : null;
}

function editorsOf(tracker: INotebookTracker | null): CodeMirrorEditor[] {
  const out: CodeMirrorEditor[] = [];
  tracker?.forEach(panel => {
    for (const cell of panel.content.widgets) {
      if (cell.editor instanceof CodeMirrorEditor) {
        out.push(cell.editor);
      }
    }
  });
  return out;
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'rft-jupyter: %%grader highlighting, saved score tables and job curves, grader templates.',
  autoStart: true,
  requires: [IEditorExtensionRegistry, IEditorLanguageRegistry],
  optional: [ISettingRegistry, ICommandPalette, INotebookTracker, IRenderMimeRegistry],
  activate: async (
    app: JupyterFrontEnd,
    extensions: IEditorExtensionRegistry,
    languages: IEditorLanguageRegistry,
    settingRegistry: ISettingRegistry | null,
    palette: ICommandPalette | null,
    tracker: INotebookTracker | null,
    rendermime: IRenderMimeRegistry | null
  ) => {
    // Highlighting: parsers come from JupyterLab's own language registry.
    let parsers: IGraderParsers | null = null;
    extensions.addExtension({
      name: 'rft-jupyter:grader-highlighting',
      factory: () =>
        EditorExtensionRegistry.createImmutableExtension(
          graderHighlighting(
            () => parsers,
            () => features.highlighting
          )
        )
    });
    const refreshEditors = () => {
      for (const editor of editorsOf(tracker)) {
        editor.editor.dispatch({ effects: setGraderHighlighting.of(features.highlighting) });
      }
    };
    void loadParsers(languages).then(p => {
      parsers = p;
      refreshEditors();
    });

    // Saved results: ahead of the widget view in notebooks, below HTML's rank elsewhere.
    const notebookFactory = (panel: NotebookPanel) =>
      savedResultFactory(() => panel.content.rendermime.getFactory(WIDGET_MIME));
    const applyRenderer = (registry: IRenderMimeRegistry, factory: () => ReturnType<typeof savedResultFactory>, rank: number) => {
      if (features.renderSavedResults) {
        registry.addFactory(factory(), rank);
      } else {
        for (const mime of MIME_TYPES) {
          registry.removeMimeType(mime);
        }
      }
    };
    app.docRegistry.addWidgetExtension('Notebook', {
      createNew: (panel: NotebookPanel) => {
        applyRenderer(panel.content.rendermime, () => notebookFactory(panel), NOTEBOOK_RANK);
      }
    });

    // The insert command, in the palette (one entry per type) and the notebook toolbar.
    const current = () => tracker?.currentWidget ?? null;
    app.commands.addCommand(INSERT_COMMAND, {
      label: args =>
        args.type ? `Insert %%grader cell: ${String(args.type)}` : 'Insert %%grader cell…',
      caption: 'Insert a %%grader cell from a template of a grader type',
      isEnabled: () => features.insertCommand && current() !== null,
      isVisible: () => features.insertCommand,
      execute: async args => {
        const panel = current();
        if (!panel) {
          return;
        }
        let type = args.type as string | undefined;
        if (!type) {
          const labels = GRADER_TYPES.map(t => GRADER_TEMPLATES[t].label);
          const answer = await InputDialog.getItem({
            title: 'Insert a %%grader cell',
            label: 'Grader type',
            items: labels,
            current: 0
          });
          if (!answer.button.accept || answer.value === null) {
            return;
          }
          type = GRADER_TYPES[labels.indexOf(answer.value)];
        }
        insertGraderCell(panel.content, type);
      }
    });
    if (palette) {
      palette.addItem({ command: INSERT_COMMAND, category: 'rft-jupyter' });
      for (const type of GRADER_TYPES) {
        palette.addItem({ command: INSERT_COMMAND, category: 'rft-jupyter', args: { type } });
      }
    }
    const buttons = new WeakMap<NotebookPanel, ToolbarButton>();
    const addButton = (panel: NotebookPanel) => {
      const names = Array.from(panel.toolbar.names());
      if (!features.insertCommand || buttons.get(panel)?.isDisposed === false) {
        return;
      }
      const button = new ToolbarButton({
        className: 'rft-insert-grader-button',
        label: '%%grader',
        tooltip: 'Insert a %%grader cell from a template',
        onClick: () => void app.commands.execute(INSERT_COMMAND)
      });
      const at = names.indexOf('cellType');
      panel.toolbar.insertItem(at >= 0 ? at + 1 : names.length, TOOLBAR_ITEM, button);
      buttons.set(panel, button);
    };
    const removeButton = (panel: NotebookPanel) => {
      buttons.get(panel)?.dispose();
      buttons.delete(panel);
    };
    tracker?.widgetAdded.connect((_, panel) => addButton(panel));

    const apply = (next: IFeatures) => {
      const changed = (k: keyof IFeatures) => features[k] !== next[k];
      const highlight = changed('highlighting');
      const render = changed('renderSavedResults');
      const insert = changed('insertCommand');
      Object.assign(features, next);
      if (highlight) {
        refreshEditors();
      }
      if (render) {
        if (rendermime) {
          applyRenderer(rendermime, () => savedResultFactory(), 40);
        }
        tracker?.forEach(panel =>
          applyRenderer(panel.content.rendermime, () => notebookFactory(panel), NOTEBOOK_RANK)
        );
      }
      if (insert) {
        tracker?.forEach(panel => (features.insertCommand ? addButton(panel) : removeButton(panel)));
        app.commands.notifyCommandChanged(INSERT_COMMAND);
      }
    };
    if (rendermime) {
      rendermime.addFactory(savedResultFactory(), 40);
    }
    if (settingRegistry) {
      try {
        const settings = await settingRegistry.load(PLUGIN_ID);
        const read = (): IFeatures => ({
          highlighting: settings.get('highlighting').composite !== false,
          renderSavedResults: settings.get('renderSavedResults').composite !== false,
          insertCommand: settings.get('insertCommand').composite !== false
        });
        apply(read());
        settings.changed.connect(() => apply(read()));
      } catch (err) {
        console.warn('rft-jupyter: settings not loaded, every feature stays on', err);
      }
    }
    console.log('rft-jupyter extension is activated');
  }
};

export default plugin;
