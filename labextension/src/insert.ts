/** The "insert a %%grader cell" command: one template per grader type. */

import { NotebookActions, Notebook } from '@jupyterlab/notebook';

import templates from './grader_templates.json';

export interface IGraderTemplate {
  label: string;
  source: string;
}

export const GRADER_TEMPLATES: Record<string, IGraderTemplate> = templates;
export const GRADER_TYPES = Object.keys(GRADER_TEMPLATES);
export const LOAD_EXT = '%load_ext rft_jupyter';

/** Whether any cell of the notebook already loads the extension. */
function loadsExtension(notebook: Notebook): boolean {
  const cells = notebook.model?.cells;
  if (!cells) {
    return false;
  }
  for (let i = 0; i < cells.length; i++) {
    if (cells.get(i).sharedModel.getSource().includes('load_ext rft_jupyter')) {
      return true;
    }
  }
  return false;
}

/**
 * Insert a code cell with the template of `type` below the active cell, preceded by a
 * `%load_ext rft_jupyter` cell when no cell loads the extension yet.
 */
export function insertGraderCell(notebook: Notebook, type: string): void {
  const template = GRADER_TEMPLATES[type];
  if (!template) {
    throw new Error(`unknown grader type ${JSON.stringify(type)}: one of ${GRADER_TYPES.join(', ')}`);
  }
  const sources = loadsExtension(notebook) ? [] : [LOAD_EXT];
  sources.push(template.source.replace(/\n$/, ''));
  sources.forEach((source, i) => {
    const active = notebook.activeCell;
    const reuse = i === 0 && active?.model.type === 'code' && !active.model.sharedModel.getSource();
    if (!reuse) {
      NotebookActions.insertBelow(notebook);
      NotebookActions.changeCellType(notebook, 'code');
    }
    notebook.activeCell?.model.sharedModel.setSource(source);
  });
}
