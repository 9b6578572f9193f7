// The text-data layer of §3.1: corpora, TinyStories, the embedded story generator, byte-level BPE.
export * from "./corpus";
export * from "./dataSpec";
export * from "./tinystories";
export * from "./stories";
export * from "./bpe";
export { SHE, HE, THEY, IT, type Pronouns } from "./grammar";
