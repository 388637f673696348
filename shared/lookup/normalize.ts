/**
 * Text normalisation shared by indexing and querying: both sides must fold text the same way, or a value can never
 * be found by the very string it was stored with. Folding: lower case, compatibility decomposition with combining
 * marks removed (`Zoë` → `zoe`, `ﬁ` → `fi`, full-width digits → ASCII), a few letters NFKD leaves whole (`ß` → `ss`),
 * apostrophes dropped inside words (`O'Brien` → `obrien`), and every other non letter/digit (punctuation, `#`, `@`,
 * whitespace) turned into one space, so a leading `#`/`@` disappears and `sarah.chen@example.com` becomes the tokens
 * `sarah chen example com`.
 */

const COMBINING_MARKS = /\p{M}+/gu;
const APOSTROPHES = /['’ʼ`]/g;
const SEPARATORS = /[^\p{L}\p{N}]+/gu;
const UNDECOMPOSED = /[ßæœøđðłþı]/g;
const UNDECOMPOSED_MAP: Readonly<Record<string, string>> = {
  ß: "ss",
  æ: "ae",
  œ: "oe",
  ø: "o",
  đ: "d",
  ð: "d",
  ł: "l",
  þ: "th",
  ı: "i",
};
/** Most stored values are already plain ASCII words; they skip the Unicode work. */
const ALREADY_NORMAL = /^[a-z0-9]+(?: [a-z0-9]+)*$/;
/** ASCII needs no decomposition: lower-casing and the separator rule give the same result, several times faster. */
const ASCII = /^[^\u0080-\uffff]*$/;
const ASCII_APOSTROPHES = /['`]/g;
const ASCII_SEPARATORS = /[^a-z0-9]+/g;

/**
 * Folds `value` for matching: lower case, no diacritics, punctuation and runs of whitespace as single spaces,
 * trimmed. Returns "" when nothing searchable is left (e.g. `"#"`).
 */
export function normalize(value: string): string {
  if (ALREADY_NORMAL.test(value)) return value;
  if (ASCII.test(value)) {
    return value.toLowerCase().replace(ASCII_APOSTROPHES, "").replace(ASCII_SEPARATORS, " ").trim();
  }
  // Lower-case before decomposing: `İ`.toLowerCase() is `i` + a combining dot, which the mark strip then removes.
  return value
    .toLowerCase()
    .normalize("NFKD")
    .replace(COMBINING_MARKS, "")
    .replace(UNDECOMPOSED, (c) => UNDECOMPOSED_MAP[c] ?? c)
    .replace(APOSTROPHES, "")
    .replace(SEPARATORS, " ")
    .trim();
}

/** The tokens of a value: its normalised form split at spaces (none for a value with no letters or digits). */
export function tokenize(value: string): string[] {
  const normal = normalize(value);
  return normal === "" ? [] : normal.split(" ");
}
