import { checkInt } from "../errors";
import { Rng } from "../random";
import { splitDocuments, type TextCorpus } from "./corpus";
import { Grammar, HE, IT, SHE, THEY, capitalize, fixArticles, type Character, type Pronouns } from "./grammar";
import { BOY_NAMES, CRITTERS, CRITTER_NAMES, GIRL_NAMES, NEUTRAL_NAMES, WORDS } from "./storyWords";
import { DESCRIPTIONS, ENDINGS, OPENINGS, PLOTS, type Beat } from "./storyTemplates";

/**
 * The embedded corpus: short children's stories in the style of TinyStories, generated from a
 * seeded probabilistic grammar (grammar.ts, storyWords.ts, storyPlots.ts) so that the §3.1 pipeline
 * runs offline. Every story has a main character with consistent pronouns, a beginning, a problem
 * and an end, 60–250 words.
 */

export type Gender = "female" | "male" | "neutral";

export interface StoryMeta {
  /** The main character's name and gender; the text refers to them only with these pronouns. */
  name: string;
  gender: Gender;
  pronouns: Pronouns["label"];
  /** "girl", "boy", "kid", "bunny", ... */
  kind: string;
  plot: string;
  words: number;
}

export interface Story {
  text: string;
  meta: StoryMeta;
}

export const STORY_MIN_WORDS = 60;
export const STORY_MAX_WORDS = 250;

/** `count` stories drawn from `rng`. */
export function generateStories(count: number, rng: Rng): Story[] {
  checkInt("count", count, { min: 0 });
  const out: Story[] = [];
  for (let i = 0; i < count; i++) out.push(generateStory(rng));
  return out;
}

export interface EmbeddedCorpusOptions {
  /** Number of stories, training and validation together. */
  documents: number;
  seed: number;
  /** Share of the stories held out for validation; default 0.05. */
  validFraction?: number;
}

/** A train/validation corpus of generated stories (validation: held-out stories of the same grammar). */
export function embeddedCorpus(opts: EmbeddedCorpusOptions): TextCorpus {
  checkInt("documents", opts.documents, { min: 2 });
  const stories = generateStories(opts.documents, Rng.derive(opts.seed, "embedded-stories"));
  return splitDocuments(
    stories.map((s) => s.text),
    opts.validFraction ?? 0.05,
    opts.seed,
  );
}

function generateStory(rng: Rng): Story {
  // Out-of-range lengths are redrawn (rare), so every story satisfies the stated word range.
  for (;;) {
    const story = drawStory(rng);
    if (story.meta.words >= STORY_MIN_WORDS && story.meta.words <= STORY_MAX_WORDS) return story;
  }
}

function drawStory(rng: Rng): Story {
  const { hero, gender, friend, parent, pet, critter } = drawCast(rng);
  const g = new Grammar(rng, WORDS, hero);
  Object.assign(g.cast, { F: friend, P: parent, A: pet });
  g.set("trait", "{@trait}");
  g.set("home", critter ? "{@critterHome}" : "{@home}");
  g.set("toy", "{@toy}");
  g.set("toyColor", "{@color}");
  g.set("place", "{@place}");
  const plot = g.pick(PLOTS);
  plot.setup?.(g);

  const sentence = (template: string) => capitalize(g.render(template));
  const intro = [sentence(g.pick(OPENINGS))];
  const descriptions = DESCRIPTIONS.slice();
  for (let k = 1 + rng.int(2); k > 0; k--) intro.push(sentence(descriptions.splice(rng.int(descriptions.length), 1)[0]));
  const middle = plot.beats.filter((b) => !isOptional(b) || g.chance(b.p)).map((b) => sentence(g.pick(isOptional(b) ? b.alts : (b as readonly string[]))));
  const end: string[] = [];
  if (g.chance(0.6)) end.push(sentence(`{H.Name} learned that ${g.pick(g.chance(0.85) ? plot.morals : WORDS.moral)}.`));
  if (end.length === 0 || g.chance(0.5)) end.push(sentence(g.pick(ENDINGS)));

  // Paragraph breaks sometimes, as in TinyStories; the rest is one paragraph.
  const join = () => (g.chance(0.3) ? "\n\n" : " ");
  const text = fixArticles(intro.join(" ") + join() + middle.join(" ") + join() + end.join(" "));
  const meta: StoryMeta = { name: hero.name, gender, pronouns: hero.pronouns.label, kind: hero.kind, plot: plot.name, words: text.split(/\s+/).length };
  return { text, meta };
}

function isOptional(b: Beat): b is { p: number; alts: readonly string[] } {
  return !Array.isArray(b);
}

/** Parents of animal heroes are named after the grown-up animal: "Mama Bear", not "Mama Bear cub". */
const GROWN: Record<string, string> = { "bear cub": "Bear", duckling: "Duck", kitten: "Cat", puppy: "Dog", piglet: "Pig", fawn: "Deer", lamb: "Sheep" };

function drawCast(rng: Rng) {
  const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)];
  const other = (xs: readonly string[], not: string) => {
    for (;;) {
      const x = pick(xs);
      if (x !== not) return x;
    }
  };
  const critter = rng.uniform() < 0.25;
  const u = rng.uniform();
  // Singular "they" is rarer than he/she, as in children's books; animals are he or she.
  const gender: Gender = !critter && u < 0.12 ? "neutral" : u < 0.56 ? "female" : "male";
  const pronouns = { female: SHE, male: HE, neutral: THEY }[gender];
  let hero: Character, friend: Character, parent: Character, pet: Character;
  if (critter) {
    const kind = pick(CRITTERS);
    hero = { name: pick(CRITTER_NAMES), kind, pronouns };
    const fKind = pick(CRITTERS);
    friend = { name: other(CRITTER_NAMES, hero.name), kind: fKind, pronouns: rng.uniform() < 0.5 ? SHE : HE };
    const [title, p] = pick([["Mama", SHE], ["Papa", HE], ["Grandma", SHE], ["Grandpa", HE]] as const);
    parent = { name: `${title} ${GROWN[kind] ?? capitalize(kind)}`, kind: "parent", pronouns: p };
    pet = { name: other(CRITTER_NAMES, hero.name), kind: pick(["ladybug", "snail", "beetle", "cricket", "firefly"]), pronouns: IT };
  } else {
    const names = { female: GIRL_NAMES, male: BOY_NAMES, neutral: NEUTRAL_NAMES }[gender];
    hero = { name: pick(names), kind: gender === "female" ? "girl" : gender === "male" ? "boy" : pick(["kid", "child"]), pronouns };
    const fFemale = rng.uniform() < 0.5;
    friend = { name: other(fFemale ? GIRL_NAMES : BOY_NAMES, hero.name), kind: fFemale ? "girl" : "boy", pronouns: fFemale ? SHE : HE };
    const [name, p] = pick([["Mom", SHE], ["Dad", HE], ["Grandma", SHE], ["Grandpa", HE], ["Mama", SHE], ["Papa", HE]] as const);
    parent = { name, kind: "parent", pronouns: p };
    pet = { name: other(CRITTER_NAMES, hero.name), kind: pick(["dog", "cat", "puppy", "kitten", "parrot", "hamster", "bunny", "turtle"]), pronouns: IT };
  }
  return { hero, gender, friend, parent, pet, critter };
}
