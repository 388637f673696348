import { randomBytes } from "node:crypto";

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
let lastTime = -1;
let lastRandom: number[] = [];

/**
 * A ULID: 48-bit time + 80 bits of randomness in Crockford base32, monotonic within one millisecond,
 * so job IDs sort by creation time as DynamoDB sort keys.
 */
export function ulid(now: number = Date.now()): string {
  if (now === lastTime) {
    let i = lastRandom.length - 1;
    while (i >= 0 && lastRandom[i] === 31) lastRandom[i--] = 0;
    if (i >= 0) lastRandom[i] = (lastRandom[i] ?? 0) + 1;
  } else {
    const bytes = randomBytes(16);
    lastRandom = Array.from({ length: 16 }, (_, j) => (bytes[j] ?? 0) % 32);
    lastTime = now;
  }
  let time = "";
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = ALPHABET[t % 32] + time;
    t = Math.floor(t / 32);
  }
  return time + lastRandom.map((n) => ALPHABET[n]).join("");
}

/** The creation time encoded in a ULID. */
export function ulidTime(id: string): number {
  let t = 0;
  for (const ch of id.slice(0, 10)) t = t * 32 + ALPHABET.indexOf(ch);
  return t;
}
