/**
 * CodeMirror 6 highlighting of `%%grader` cells.
 *
 * The cell keeps JupyterLab's own language everywhere else. In a `%%grader` cell a language of
 * higher precedence takes over: the outer (Python) parser reads the magic line, and the body is
 * parsed as an overlay by the JSON, YAML or Python parser its kind calls for. Template variables
 * (`{{ sample.* }}`, `{{ item.* }}`) and the magic line are marked with decorations.
 */

import { Language, LRLanguage, language as languageFacet } from '@codemirror/language';
import { Extension, Prec, StateEffect, StateField, RangeSetBuilder } from '@codemirror/state';
import {
  Decoration,
  DecorationSet,
  EditorView,
  ViewPlugin,
  ViewUpdate
} from '@codemirror/view';
import { Parser, parseMixed } from '@lezer/common';

import { BodyKind, parseGraderCell, templateVariables } from './grader_cell';

/** The parsers a grader cell needs: the outer language and one parser per body kind. */
export interface IGraderParsers {
  outer: LRLanguage;
  body: Partial<Record<BodyKind, Parser>>;
}

/** Turns highlighting of grader cells on or off in one editor. */
export const setGraderHighlighting = StateEffect.define<boolean>();

const HEADER_SCAN = 4096;

/** A language whose top node mounts `body` over everything after the first line. */
export function graderLanguage(outer: LRLanguage, body: Parser, kind: BodyKind): Language {
  const wrap = parseMixed((node, input) => {
    if (!node.type.isTop) {
      return null;
    }
    const head = input.read(0, Math.min(input.length, HEADER_SCAN));
    const newline = head.indexOf('\n');
    if (newline < 0 || newline + 1 >= input.length) {
      return null;
    }
    return { parser: body, overlay: [{ from: newline + 1, to: input.length }] };
  });
  return outer.configure({ wrap }, `rft-grader-${kind}`);
}

const magicMark = Decoration.mark({ class: 'cm-rft-grader-magic' });
const variableMark = Decoration.mark({ class: 'cm-rft-template-variable' });

function decorate(view: EditorView, enabled: boolean): DecorationSet {
  const text = view.state.doc.toString();
  const cell = enabled ? parseGraderCell(text) : null;
  const builder = new RangeSetBuilder<Decoration>();
  if (cell) {
    if (cell.headerTo > 0) {
      builder.add(0, cell.headerTo, magicMark);
    }
    for (const r of templateVariables(text, cell.bodyFrom)) {
      builder.add(r.from, r.to, variableMark);
    }
  }
  return builder.finish();
}

/**
 * The editor extension: `parsers` is read when a document changes, so parsers that finish
 * loading later take effect with the next edit (or a `setGraderHighlighting` effect).
 */
export function graderHighlighting(
  parsers: () => IGraderParsers | null,
  initiallyEnabled: () => boolean
): Extension {
  const enabledField = StateField.define<boolean>({
    create: () => initiallyEnabled(),
    update(value, tr) {
      for (const effect of tr.effects) {
        if (effect.is(setGraderHighlighting)) {
          value = effect.value;
        }
      }
      return value;
    }
  });
  const cache = new Map<string, Language>();
  const languages = languageFacet.computeN(['doc', enabledField], state => {
    const available = parsers();
    if (!state.field(enabledField) || !available) {
      return [];
    }
    const cell = parseGraderCell(state.doc.toString());
    const body = cell ? available.body[cell.kind] : undefined;
    if (!cell || !body) {
      return [];
    }
    let lang = cache.get(cell.kind);
    if (!lang) {
      lang = graderLanguage(available.outer, body, cell.kind);
      cache.set(cell.kind, lang);
    }
    return [lang];
  });
  const marks = ViewPlugin.fromClass(
    class {
      decorations: DecorationSet;
      constructor(view: EditorView) {
        this.decorations = decorate(view, view.state.field(enabledField));
      }
      update(update: ViewUpdate) {
        const toggled = update.transactions.some(tr =>
          tr.effects.some(e => e.is(setGraderHighlighting))
        );
        if (update.docChanged || toggled) {
          this.decorations = decorate(update.view, update.state.field(enabledField));
        }
      }
    },
    { decorations: v => v.decorations }
  );
  return [enabledField, Prec.highest(languages), marks];
}
