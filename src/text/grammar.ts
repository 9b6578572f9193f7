import { Rng } from "../random";

/**
 * A tiny template language for the embedded story generator (stories.ts):
 *
 *   [a|b|c]    one alternative, uniformly at random; nests; `[a|]` makes `a` optional
 *   {@list}    a random entry of a word list (entries may hold templates themselves)
 *   {$var}     a story variable, fixed once per story (the lost toy stays the same toy)
 *   {X.field}  a field of character X: name, he, him, his, himself, was, wasnt, is, has, kind
 *
 * A capital after `@`, `$` or `.` capitalizes the result: `{H.He}`, `{@Color}`.
 */

export interface Pronouns {
  readonly label: "she/her" | "he/him" | "they/them" | "it/its";
  readonly he: string;
  readonly him: string;
  readonly his: string;
  readonly himself: string;
  /** Singular "they" takes plural verbs: "they were", "they have". */
  readonly plural: boolean;
}

export const SHE: Pronouns = { label: "she/her", he: "she", him: "her", his: "her", himself: "herself", plural: false };
export const HE: Pronouns = { label: "he/him", he: "he", him: "him", his: "his", himself: "himself", plural: false };
export const THEY: Pronouns = { label: "they/them", he: "they", him: "them", his: "their", himself: "themselves", plural: true };
export const IT: Pronouns = { label: "it/its", he: "it", him: "it", his: "its", himself: "itself", plural: false };

export interface Character {
  name: string;
  kind: string;
  pronouns: Pronouns;
}

type Node = string | { alts: Node[][] } | { slot: string };

const parsed = new Map<string, Node[]>();

export class Grammar {
  readonly vars: Record<string, string> = {};
  readonly cast: Record<string, Character> = {};

  constructor(
    readonly rng: Rng,
    readonly lists: Readonly<Record<string, readonly string[]>>,
    /** The main character. Others are named, not pronouned, unless they share its pronouns (see `field`). */
    readonly hero: Character,
  ) {
    this.cast.H = hero;
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.rng.int(xs.length)];
  }

  chance(p: number): boolean {
    return this.rng.uniform() < p;
  }

  /** Sets a story variable to a rendering of one of `templates`. */
  set(name: string, ...templates: string[]): string {
    return (this.vars[name] = this.render(this.pick(templates)));
  }

  render(template: string): string {
    let nodes = parsed.get(template);
    if (!nodes) parsed.set(template, (nodes = parse(template)));
    return this.renderNodes(nodes);
  }

  private renderNodes(nodes: Node[]): string {
    let out = "";
    for (const n of nodes) {
      if (typeof n === "string") out += n;
      else if ("alts" in n) out += this.renderNodes(this.pick(n.alts));
      else out += this.slot(n.slot);
    }
    return out;
  }

  private slot(key: string): string {
    const sigil = key[0];
    const dot = key.indexOf(".");
    const name = sigil === "@" || sigil === "$" ? key.slice(1) : key.slice(dot + 1);
    const lower = name[0].toLowerCase() + name.slice(1);
    let value: string;
    if (sigil === "@") {
      const list = this.lists[lower];
      if (!list) throw new Error(`story grammar: no word list "${lower}"`);
      value = this.render(this.pick(list));
    } else if (sigil === "$") {
      value = this.vars[lower];
      if (value === undefined) throw new Error(`story grammar: variable "${lower}" is not set`);
    } else {
      const who = this.cast[key.slice(0, dot)];
      if (!who || dot < 0) throw new Error(`story grammar: no character in "{${key}}"`);
      value = this.field(who, lower);
    }
    return name[0] !== lower[0] ? capitalize(value) : value;
  }

  /**
   * Why side characters fall back to their names: a pronoun of a different gender than the hero's
   * would make "the story uses the hero's pronouns" untestable from the text alone. Characters with
   * the hero's pronouns, and animals and things ("it"), are pronouned normally.
   */
  private field(c: Character, field: string): string {
    const pronouned = c === this.hero || c.pronouns === this.hero.pronouns || c.pronouns === IT;
    const p = c.pronouns;
    switch (field) {
      case "name":
        return c.name;
      case "kind":
        return c.kind;
      case "he":
      case "him":
        return pronouned ? p[field] : c.name;
      case "his":
        return pronouned ? p.his : `${c.name}'s`;
      case "himself":
        return pronouned ? p.himself : c.name;
      case "was":
        return pronouned && p.plural ? "were" : "was";
      case "wasnt":
        return pronouned && p.plural ? "weren't" : "wasn't";
      case "is":
        return pronouned && p.plural ? "are" : "is";
      case "has":
        return pronouned && p.plural ? "have" : "has";
    }
    throw new Error(`story grammar: unknown character field "${field}"`);
  }
}

export function capitalize(s: string): string {
  const i = s.search(/[A-Za-z]/);
  return i < 0 ? s : s.slice(0, i) + s[i].toUpperCase() + s.slice(i + 1);
}

/** "a apple" → "an apple" (by spelling, with the few exceptions our word lists need). */
export function fixArticles(s: string): string {
  return s.replace(/\b([Aa]) ([A-Za-z]+)/g, (m, a: string, w: string) =>
    /^[aeiou]/i.test(w) && !/^(uni|use|one|eu)/i.test(w) ? `${a}n ${w}` : m,
  );
}

function parse(t: string): Node[] {
  let i = 0;
  const seq = (inChoice: boolean): Node[] => {
    const out: Node[] = [];
    let text = "";
    const flush = () => {
      if (text) out.push(text);
      text = "";
    };
    while (i < t.length) {
      const c = t[i];
      if (inChoice && (c === "|" || c === "]")) break;
      if (c === "[") {
        flush();
        i++;
        const alts: Node[][] = [seq(true)];
        while (t[i] === "|") {
          i++;
          alts.push(seq(true));
        }
        if (t[i] !== "]") throw new Error(`story grammar: unclosed [ in ${JSON.stringify(t)}`);
        i++;
        out.push({ alts });
      } else if (c === "{") {
        flush();
        const end = t.indexOf("}", i);
        if (end < 0) throw new Error(`story grammar: unclosed { in ${JSON.stringify(t)}`);
        out.push({ slot: t.slice(i + 1, end) });
        i = end + 1;
      } else {
        text += c;
        i++;
      }
    }
    flush();
    return out;
  };
  const nodes = seq(false);
  if (i !== t.length) throw new Error(`story grammar: stray ${t[i]} in ${JSON.stringify(t)}`);
  return nodes;
}
