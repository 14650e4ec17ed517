import { jsonLanguage } from '@codemirror/lang-json';
import { pythonLanguage } from '@codemirror/lang-python';
import { StreamLanguage, ensureSyntaxTree, language } from '@codemirror/language';
import { yaml } from '@codemirror/legacy-modes/mode/yaml';
import { EditorState } from '@codemirror/state';
import { EditorView } from '@codemirror/view';
import { classHighlighter, highlightTree } from '@lezer/highlight';
import { describe, expect, it } from 'vitest';

import { IGraderParsers, graderHighlighting, setGraderHighlighting } from '../highlight';

const parsers: IGraderParsers = {
  outer: pythonLanguage,
  body: {
    json: jsonLanguage.parser,
    yaml: StreamLanguage.define(yaml).parser,
    python: pythonLanguage.parser
  }
};

/**
 * A cell editor state as JupyterLab makes one (Python), plus our extension, after the first
 * transaction (the view sends one right after it is created).
 */
function cell(doc: string, enabled = true, available: IGraderParsers | null = parsers): EditorState {
  const state = EditorState.create({
    doc,
    extensions: [pythonLanguage, graderHighlighting(() => available, () => enabled)]
  });
  return state.update({ effects: setGraderHighlighting.of(enabled) }).state;
}

/** The highlight classes over the first occurrence of `text` (after `after`). */
function classesOf(state: EditorState, text: string, after = 0): string[] {
  const doc = state.doc.toString();
  const from = doc.indexOf(text, after);
  expect(from, `${text} in the cell`).toBeGreaterThanOrEqual(0);
  const tree = ensureSyntaxTree(state, state.doc.length, 5000)!;
  const out = new Set<string>();
  highlightTree(tree, classHighlighter, (f, t, cls) => {
    if (f < from + text.length && t > from) {
      cls.split(' ').forEach(c => out.add(c));
    }
  }, from, from + text.length);
  return [...out].sort();
}

describe('%%grader highlighting', () => {
  it('highlights a JSON body as JSON', () => {
    const state = cell('%%grader exact\n{"type": "string_check", "pass_threshold": 1, "x": true}');
    expect(state.facet(language)?.name).toBe('rft-grader-json');
    expect(classesOf(state, '"type"')).toEqual(['tok-propertyName']);
    expect(classesOf(state, '"string_check"')).toEqual(['tok-string']);
    expect(classesOf(state, '1')).toEqual(['tok-number']);
    expect(classesOf(state, 'true')).toEqual(['tok-bool']);
  });

  it('highlights a YAML body as YAML', () => {
    const state = cell('%%grader close\n# similarity\ntype: text_similarity\ninput: "{{ sample.output_text }}"\n');
    expect(state.facet(language)?.name).toBe('rft-grader-yaml');
    expect(classesOf(state, 'type')).toEqual(['tok-atom']);
    expect(classesOf(state, '# similarity')).toEqual(['tok-comment']);
    expect(classesOf(state, '"{{ sample.output_text }}"')).toEqual(['tok-string']);
  });

  it('highlights a Python body as Python', () => {
    const state = cell('%%grader py\ndef grade(sample, item):\n    return 1.0 if sample["output_text"] else 0.0\n');
    expect(state.facet(language)?.name).toBe('rft-grader-python');
    expect(classesOf(state, 'def')).toEqual(['tok-keyword']);
    expect(classesOf(state, '"output_text"')).toEqual(['tok-string']);
  });

  it('leaves other cells, and grader cells when turned off, to the notebook language', () => {
    expect(cell('x = {"type": 1}').facet(language)).toBe(pythonLanguage);
    const off = cell('%%grader a\n{"type": 1}', false);
    expect(off.facet(language)).toBe(pythonLanguage);
    expect(classesOf(off, '"type"')).toEqual(['tok-string']); // Python's reading: a string
    expect(cell('%%grader a\n{"type": 1}', true, null).facet(language)).toBe(pythonLanguage);
  });

  it('follows edits and the on/off effect', () => {
    let state = cell('print(1)');
    expect(state.facet(language)).toBe(pythonLanguage);
    state = state.update({ changes: { from: 0, to: 8, insert: '%%grader a\ntype: multi' } }).state;
    expect(state.facet(language)?.name).toBe('rft-grader-yaml');
    state = state.update({ changes: { from: 11, to: 22, insert: '{"type": "multi"}' } }).state;
    expect(state.facet(language)?.name).toBe('rft-grader-json');
    state = state.update({ effects: setGraderHighlighting.of(false) }).state;
    expect(state.facet(language)).toBe(pythonLanguage);
    state = state.update({ effects: setGraderHighlighting.of(true) }).state;
    expect(state.facet(language)?.name).toBe('rft-grader-json');
  });

  it('never breaks an editor that has no language yet (JupyterLab loads it later)', () => {
    const bare = EditorState.create({
      doc: 'print(1)',
      extensions: [graderHighlighting(() => parsers, () => true)]
    });
    expect(bare.facet(language)).toBeNull();
    const edited = bare.update({ changes: { from: 0, insert: '%%grader a\n{}\n' } }).state;
    expect(edited.facet(language)?.name).toBe('rft-grader-json');
    expect(edited.update({ changes: { from: 0, to: 2 } }).state.facet(language)).toBeNull();
  });

  it('reads a grader cell when its editor is created, and marks template variables', async () => {
    const parent = document.createElement('div');
    document.body.appendChild(parent);
    const view = new EditorView({
      state: EditorState.create({
        doc: '%%grader exact\ninput: "{{ sample.output_text }}"\nreference: "{{ item.answer }}"\nx: "{{ other }}"',
        extensions: [pythonLanguage, graderHighlighting(() => parsers, () => true)]
      }),
      parent
    });
    expect(view.state.facet(language)).toBe(pythonLanguage);
    await Promise.resolve();
    expect(view.state.facet(language)?.name).toBe('rft-grader-yaml');
    const marked = [...view.contentDOM.querySelectorAll('.cm-rft-template-variable')].map(
      n => n.textContent
    );
    expect(marked).toEqual(['{{ sample.output_text }}', '{{ item.answer }}']);
    expect(view.contentDOM.querySelector('.cm-rft-grader-magic')?.textContent).toBe('%%grader exact');
    view.dispatch({ effects: setGraderHighlighting.of(false) });
    expect(view.contentDOM.querySelectorAll('.cm-rft-template-variable').length).toBe(0);
    view.destroy();
  });
});
