/**
 * Estimated width of a line of text in a sans-serif font, for laying out
 * SVG on the server where nothing can be measured. The widths per character
 * (em) are those of the wider common fonts (DejaVu Sans / Verdana), so a label
 * drawn in a narrower font only gets more room. Bold text is taken as 12 %
 * wider.
 */
export function textWidth(text: string, fontSize: number, bold = false): number {
  let em = 0;
  for (const ch of text) em += charEm(ch);
  return Math.ceil(em * fontSize * (bold ? 1.12 : 1));
}

function charEm(ch: string): number {
  if (/[0-9]/.test(ch)) return 0.64;
  if ("ijl|!'.,:;".includes(ch)) return 0.3;
  if ('ftr()[]/\\ -'.includes(ch)) return 0.42;
  if ('mwMW%@'.includes(ch)) return 0.98;
  if (/[A-Z]/.test(ch)) return 0.74;
  if (/[a-z]/.test(ch)) return 0.62;
  if ('−±×≥≤—–'.includes(ch)) return 0.84;
  return 0.7;
}
