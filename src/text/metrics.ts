/**
 * Text-level measures of generated documents (beyond the paper, which reports cross-entropy only):
 * how much of the output is real vocabulary, and how varied it is. Words are maximal runs of letters
 * (with inner apostrophes), lower-cased, so punctuation and case never count as vocabulary.
 */

const WORD = /\p{L}+(?:['’]\p{L}+)*/gu;

export function words(text: string): string[] {
  return (text.toLowerCase().match(WORD) ?? []) as string[];
}

/** The set of words of a corpus (e.g. the real training documents). */
export function vocabularyOf(docs: Iterable<string>): Set<string> {
  const out = new Set<string>();
  for (const d of docs) for (const w of words(d)) out.add(w);
  return out;
}

export interface TextMeasures {
  /** Share of generated words that occur in the real vocabulary (1 = no invented words). */
  validWordRate: number;
  /** Distinct words / words, over all generated documents together. */
  distinct1: number;
  /** Distinct word bigrams / bigrams (bigrams do not cross document boundaries). */
  distinct2: number;
  /** Words per generated document. */
  meanWords: number;
}

/** The measures of `docs` against the real vocabulary; documents without words count as empty. */
export function textMeasures(docs: readonly string[], vocabulary: ReadonlySet<string>): TextMeasures {
  let total = 0;
  let valid = 0;
  let bigrams = 0;
  const uni = new Set<string>();
  const bi = new Set<string>();
  for (const d of docs) {
    const ws = words(d);
    total += ws.length;
    for (let i = 0; i < ws.length; i++) {
      if (vocabulary.has(ws[i])) valid++;
      uni.add(ws[i]);
      if (i > 0) {
        bi.add(`${ws[i - 1]} ${ws[i]}`);
        bigrams++;
      }
    }
  }
  return {
    validWordRate: total > 0 ? valid / total : 0,
    distinct1: total > 0 ? uni.size / total : 0,
    distinct2: bigrams > 0 ? bi.size / bigrams : 0,
    meanWords: docs.length > 0 ? total / docs.length : 0,
  };
}

/** The q-quantile (0 ≤ q ≤ 1) of values, by linear interpolation between order statistics. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}
