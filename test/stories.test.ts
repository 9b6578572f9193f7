import { test } from "node:test";
import assert from "node:assert/strict";
import { Rng } from "../src/random";
import { STORY_MAX_WORDS, STORY_MIN_WORDS, embeddedCorpus, generateStories, type Story } from "../src/text";

// One shared sample of 2000 stories (about 0.3 s to generate).
const stories = generateStories(2000, Rng.fromSeed(2024));
const words = (text: string) => text.toLowerCase().match(/[a-z]+(?:'[a-z]+)?/g) ?? [];

/** Empirical conditional entropy H(w_t | w_{t-1}) in bits, over word bigrams within each story. */
function bigramEntropy(texts: readonly string[]): number {
  const pair = new Map<string, number>();
  const prev = new Map<string, number>();
  let n = 0;
  for (const t of texts) {
    const w = words(t);
    for (let i = 1; i < w.length; i++) {
      const k = `${w[i - 1]} ${w[i]}`;
      pair.set(k, (pair.get(k) ?? 0) + 1);
      prev.set(w[i - 1], (prev.get(w[i - 1]) ?? 0) + 1);
      n++;
    }
  }
  let h = 0;
  for (const [k, c] of pair) h -= (c / n) * Math.log2(c / prev.get(k.slice(0, k.indexOf(" ")))!);
  return h;
}

test("2000 stories are all distinct, 60-250 words, and every plot occurs", () => {
  assert.equal(new Set(stories.map((s) => s.text)).size, stories.length);
  for (const s of stories) {
    const n = s.text.split(/\s+/).length;
    assert.equal(n, s.meta.words);
    assert.ok(n >= STORY_MIN_WORDS && n <= STORY_MAX_WORDS, `${n} words: ${s.text}`);
    assert.equal(s.text, s.text.trim());
    assert.doesNotMatch(s.text, /[{}[\]|]|<\|endoftext\|>|undefined/, "template syntax leaked");
    assert.doesNotMatch(s.text, /\b[Aa] [aeio]\w/, "a/an");
  }
  const plots = new Set(stories.map((s) => s.meta.plot));
  assert.ok(plots.size >= 10, [...plots].join(", "));
});

test("vocabulary over 2000 stories has at least 500 word types", () => {
  const types = new Set(stories.flatMap((s) => words(s.text)));
  console.log(`# embedded stories: ${types.size} word types over 2000 stories`);
  assert.ok(types.size >= 500, `${types.size}`);
});

test("bigram conditional entropy H(w_t | w_{t-1}) exceeds 2.5 bits", () => {
  const h = bigramEntropy(stories.map((s) => s.text));
  console.log(`# embedded stories: H(w_t | w_t-1) = ${h.toFixed(3)} bits`);
  assert.ok(h > 2.5, `${h}`);
  // The measure itself: a text that always repeats the same sentence has zero conditional entropy.
  assert.equal(bigramEntropy(["the cat sat on the mat. ".repeat(50).replace(/the mat/g, "a mat")]), 0);
});

test("the main character is referred to only with the pronouns of its gender", () => {
  const sets = {
    female: ["she", "her", "herself"],
    male: ["he", "him", "his", "himself"],
    neutral: ["they", "them", "their", "themselves"],
  };
  const counts = { female: 0, male: 0, neutral: 0 };
  let unpronouned = 0;
  for (const s of stories) {
    const { name, gender } = s.meta;
    counts[gender]++;
    const w = new Set(words(s.text));
    assert.ok(s.text.includes(name), `${name} missing`);
    // Side characters of another gender are always named, so other gendered pronouns never appear.
    for (const [g, pronouns] of Object.entries(sets)) {
      if (g === gender || g === "neutral") continue; // "they" is also the plural
      for (const p of pronouns) assert.ok(!w.has(p), `${gender} hero ${name} but "${p}" in: ${s.text}`);
    }
    // Singular they takes plural verbs.
    if (gender === "neutral") assert.doesNotMatch(s.text, /\b[Tt]hey (was|is|has)\b/, s.text);
    if (gender !== "neutral" && !sets[gender].some((p) => w.has(p))) unpronouned++;
  }
  // Most stories do use the hero's pronouns (a few name the hero every time).
  assert.ok(unpronouned < stories.length / 10, `${unpronouned} stories never use the hero's pronoun`);
  for (const g of ["female", "male", "neutral"] as const) assert.ok(counts[g] >= 100, `${g}: ${counts[g]}`);
});

test("a sentence after one naming the hero starts with the pronoun its metadata says", () => {
  // "Nora was shy. She ..." must say She for a female hero, He for a male one, They for a neutral one.
  const pattern = (s: Story) => new RegExp(`\\b${s.meta.name}\\b[^."!?]*[.!?] (He|She|They) `);
  let checked = 0;
  for (const s of stories) {
    const m = pattern(s).exec(s.text);
    if (!m) continue;
    const expect = { female: "She", male: "He", neutral: "They" }[s.meta.gender];
    if (m[1] === "They" && s.meta.gender !== "neutral") continue; // plural "they" (hero and friend)
    assert.equal(m[1], expect, s.text);
    checked++;
  }
  assert.ok(checked > 500, `${checked}`);
});

test("deterministic per seed; different seeds give different stories", () => {
  assert.deepEqual(generateStories(50, Rng.fromSeed(2024)), stories.slice(0, 50));
  const other = generateStories(50, Rng.fromSeed(2025));
  assert.ok(other.every((s, i) => s.text !== stories[i].text));
  const c = embeddedCorpus({ documents: 300, seed: 9 });
  assert.deepEqual(c, embeddedCorpus({ documents: 300, seed: 9 }));
  assert.notDeepEqual(c.train, embeddedCorpus({ documents: 300, seed: 10 }).train);
  assert.equal(c.valid.length, 15);
  assert.equal(new Set([...c.train, ...c.valid]).size, 300);
  assert.deepEqual(generateStories(0, Rng.fromSeed(1)), []);
});
