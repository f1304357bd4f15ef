/**
 * The account a login names, as the per-account rate limit counts it. Credential checks
 * commonly trim, case-fold and normalize the name before they look it up, so "alice ",
 * "\talice", "ALICE" and "ａｌｉｃｅ" (full-width) are one account there and must share one
 * allowance here: Unicode NFKC, default-ignorable code points (zero-width spaces, joiners)
 * removed, surrounding white space trimmed, and case folded (upper then lower case, so that
 * "ß" and "SS" fold alike, as Unicode's full case folding does).
 */

const IGNORABLE = /\p{Default_Ignorable_Code_Point}/gu;

export function canonicalUsername(username: string): string {
  const folded = username.normalize("NFKC").replace(IGNORABLE, "").trim().toUpperCase().toLowerCase();
  return folded.normalize("NFKC");
}
