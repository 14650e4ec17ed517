/**
 * What a `%%grader` cell is made of: the magic line, and a body read as JSON, YAML or Python.
 *
 * The rules mirror the Python side (rft_jupyter/magics/grader_cell.py `detect_format`): an
 * explicit `--format` wins; otherwise a body starting with `{` is JSON, a body defining
 * `def grade(` is Python, and anything else is YAML.
 */

export type BodyKind = 'json' | 'yaml' | 'python';

export interface IGraderCell {
  /** End of the `%%grader ...` line (exclusive, before the newline). */
  headerTo: number;
  /** Start of the body (after the newline); equals the text length when there is no body. */
  bodyFrom: number;
  /** How the body is highlighted. */
  kind: BodyKind;
  /** The grader's name from the magic line, when given. */
  name: string | null;
}

export interface IRange {
  from: number;
  to: number;
}

const HEADER = /^%%grader(?=\s|$)/;
const FORMAT_FLAG = /(?:^|\s)(?:--format|-f)(?:=|\s+)(\S+)/;
const DEF_GRADE = /^\s*(?:async\s+)?def\s+grade\s*\(/m;
const KINDS: ReadonlyArray<BodyKind> = ['json', 'yaml', 'python'];

/** The kind a body is read as, without a `--format` flag. */
export function detectBodyKind(body: string): BodyKind {
  if (body.trimStart().startsWith('{')) {
    return 'json';
  }
  return DEF_GRADE.test(body) ? 'python' : 'yaml';
}

/** The parts of a `%%grader` cell, or null when `text` is not one. */
export function parseGraderCell(text: string): IGraderCell | null {
  if (!HEADER.test(text)) {
    return null;
  }
  const newline = text.indexOf('\n');
  const headerTo = newline < 0 ? text.length : newline;
  const bodyFrom = newline < 0 ? text.length : newline + 1;
  const header = text.slice(0, headerTo);
  const args = header.slice('%%grader'.length).trim().split(/\s+/);
  const name = args[0] && !args[0].startsWith('-') ? args[0] : null;
  const flag = FORMAT_FLAG.exec(header);
  const explicit = flag ? (flag[1].toLowerCase() as BodyKind) : null;
  const kind =
    explicit && KINDS.includes(explicit) ? explicit : detectBodyKind(text.slice(bodyFrom));
  return { headerTo, bodyFrom, kind, name };
}

const TEMPLATE_VAR = /\{\{\s*(?:sample|item)(?:\s*(?:\.\s*[A-Za-z_][\w-]*|\[[^\]{}]*\]))*\s*\}\}/g;

/**
 * The `{{ sample.* }}` / `{{ item.* }}` template variables in `text[from:to]`, as absolute ranges.
 */
export function templateVariables(text: string, from = 0, to = text.length): IRange[] {
  const out: IRange[] = [];
  const slice = text.slice(from, to);
  TEMPLATE_VAR.lastIndex = 0;
  for (let m = TEMPLATE_VAR.exec(slice); m; m = TEMPLATE_VAR.exec(slice)) {
    out.push({ from: from + m.index, to: from + m.index + m[0].length });
  }
  return out;
}
