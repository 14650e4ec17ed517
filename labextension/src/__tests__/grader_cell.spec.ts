import { describe, expect, it } from 'vitest';

import { detectBodyKind, parseGraderCell, templateVariables } from '../grader_cell';

describe('parseGraderCell', () => {
  it('reads JSON, YAML and Python bodies as the %%grader magic does', () => {
    expect(parseGraderCell('%%grader exact\n{"type": "string_check"}')).toEqual({
      headerTo: 14,
      bodyFrom: 15,
      kind: 'json',
      name: 'exact'
    });
    expect(parseGraderCell('%%grader close\ntype: text_similarity\n')?.kind).toBe('yaml');
    expect(parseGraderCell('%%grader py\nimport re\n\ndef grade(sample, item):\n  return 1.0')?.kind).toBe(
      'python'
    );
    expect(parseGraderCell('%%grader py\nasync def grade (s, i):\n  return 1')?.kind).toBe('python');
  });

  it('lets --format win over the body', () => {
    expect(parseGraderCell('%%grader x --format yaml\n{a: 1}')?.kind).toBe('yaml');
    expect(parseGraderCell('%%grader x --format=python\ntype: x')?.kind).toBe('python');
    expect(parseGraderCell('%%grader x -f json\n[1]')?.kind).toBe('json');
    // an unknown format falls back to detection (the kernel reports the error)
    expect(parseGraderCell('%%grader x --format toml\n{"a": 1}')?.kind).toBe('json');
  });

  it('is null for other cells', () => {
    expect(parseGraderCell('%%graderx a\n{}')).toBeNull();
    expect(parseGraderCell(' %%grader a\n{}')).toBeNull();
    expect(parseGraderCell('# %%grader a\n{}')).toBeNull();
    expect(parseGraderCell('%grade combo df')).toBeNull();
    expect(parseGraderCell('')).toBeNull();
  });

  it('handles a header without a body or a name', () => {
    expect(parseGraderCell('%%grader')).toEqual({ headerTo: 8, bodyFrom: 8, kind: 'yaml', name: null });
    expect(parseGraderCell('%%grader --format json\n{}')?.name).toBeNull();
  });

  it('detects body kinds like the Python side', () => {
    expect(detectBodyKind('   \n  {"type": "multi"}')).toBe('json');
    expect(detectBodyKind('type: python\nsource: |\n  def grade(s, i): ...')).toBe('python');
    expect(detectBodyKind('type: string_check')).toBe('yaml');
  });
});

describe('templateVariables', () => {
  it('finds sample and item variables with paths and indexes', () => {
    const text = 'input: "{{ sample.output_text }}" ref: "{{item.answer.value}}" x: "{{ item.choices[0] }}"';
    const found = templateVariables(text).map(r => text.slice(r.from, r.to));
    expect(found).toEqual(['{{ sample.output_text }}', '{{item.answer.value}}', '{{ item.choices[0] }}']);
  });

  it('ignores other braces and respects the range', () => {
    const text = '{{ other.x }} {{ sample }} {{ samples.x }} {{ item.a }}';
    const all = templateVariables(text).map(r => text.slice(r.from, r.to));
    expect(all).toEqual(['{{ sample }}', '{{ item.a }}']);
    const from = text.indexOf('{{ samples');
    expect(templateVariables(text, from).map(r => r.from)).toEqual([text.indexOf('{{ item')]);
  });
});
