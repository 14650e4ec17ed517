/**
 * CodeMirror 6 highlighting of `%%grader` cells.
 *
 * The cell keeps JupyterLab's own language everywhere else. In a `%%grader` cell a language of
 * higher precedence takes over: the outer (Python) parser reads the magic line, and the body is
 * parsed as an overlay by the JSON, YAML or Python parser its kind calls for. Template variables
 * (`{{ sample.* }}`, `{{ item.* }}`) and the magic line are marked with decorations.
 */

import { Language, LRLanguage } from '@codemirror/language';
import {
  Compartment,
  EditorState,
  Extension,
  Prec,
  RangeSetBuilder,
  StateEffect,
  StateField
} from '@codemirror/state';
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
 * The editor extension. The grader language lives in a compartment that is reconfigured by
 * transactions (edits, `setGraderHighlighting`), and once right after the editor is created;
 * outside grader cells the compartment is empty, so the notebook's own language applies.
 * `parsers` is read at each of those moments: parsers that load later take effect with the
 * next edit or effect.
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
  const compartment = new Compartment();
  const cache = new Map<string, Extension>();
  const wanted = (text: string, enabled: boolean): Extension => {
    const available = parsers();
    const cell = enabled && available ? parseGraderCell(text) : null;
    const body = cell && available ? available.body[cell.kind] : undefined;
    if (!cell || !body || !available) {
      return [];
    }
    let ext = cache.get(cell.kind);
    if (!ext) {
      ext = Prec.highest(graderLanguage(available.outer, body, cell.kind));
      cache.set(cell.kind, ext);
    }
    return ext;
  };
  const switcher = EditorState.transactionExtender.of(tr => {
    const toggles = tr.effects.filter(e => e.is(setGraderHighlighting));
    if (!tr.docChanged && !toggles.length) {
      return null;
    }
    const enabled = toggles.length
      ? (toggles[toggles.length - 1].value as boolean)
      : tr.startState.field(enabledField);
    const next = wanted(tr.newDoc.toString(), enabled);
    return compartment.get(tr.startState) === next
      ? null
      : { effects: compartment.reconfigure(next) };
  });
  const marks = ViewPlugin.fromClass(
    class {
      decorations: DecorationSet;
      private gone = false;
      constructor(view: EditorView) {
        this.decorations = decorate(view, view.state.field(enabledField));
        // The first reading of the document (no transaction has happened yet).
        queueMicrotask(() => {
          if (!this.gone) {
            view.dispatch({ effects: setGraderHighlighting.of(view.state.field(enabledField)) });
          }
        });
      }
      destroy() {
        this.gone = true;
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
  return [enabledField, compartment.of([]), switcher, marks];
}
