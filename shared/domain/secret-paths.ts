/**
 * Which configured field paths name secrets (DESIGN.md "metadataFields"). One rule for every path a source
 * configures (id, name, lookup, metadata) and for the keys of kept objects: a value under such a path is never stored.
 */

const SECRET_WORDS = new Set([
  "token",
  "tokens",
  "password",
  "passwords",
  "passwd",
  "passphrase",
  "secret",
  "secrets",
  "apikey",
  "apikeys",
  "credential",
  "credentials",
  "privatekey",
  "session",
  "sessions",
  "cookie",
  "cookies",
  // Common compounds written without a separator.
  "accesstoken",
  "refreshtoken",
  "authtoken",
  "idtoken",
  "bearertoken",
  "sessionid",
  "sessiontoken",
  "clientsecret",
  "setcookie",
]);
const SECRET_PAIRS = new Set(["api key", "private key", "set cookie"]);

/**
 * Whether a field path names a secret-like value. The path is split into words at `.`, `_`, `-`, spaces, digits and
 * camelCase (`api_token_hint` → api token hint, `accessToken` → access token, `APIKey` → api key), so `monkey` and
 * `tokenizer` stay while `apiKey` and `private_key` go.
 */
export function isSecretPath(path: string): boolean {
  const words = splitWords(path);
  for (let i = 0; i < words.length; i++) {
    const word = words[i] as string;
    if (SECRET_WORDS.has(word)) return true;
    const next = words[i + 1];
    if (next !== undefined && SECRET_PAIRS.has(`${word} ${next}`)) return true;
  }
  return false;
}

function splitWords(path: string): string[] {
  return path
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2")
    .split(/[^A-Za-z]+/)
    .filter((word) => word !== "")
    .map((word) => word.toLowerCase());
}
