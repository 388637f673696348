import { describe, expect, it } from "vitest";
import { mapLimit } from "../../shared/concurrency.js";

describe("mapLimit", () => {
  it("keeps the order of results and never runs more than the limit at once", async () => {
    let running = 0;
    let peak = 0;
    const results = await mapLimit([5, 1, 4, 2, 3, 0], 2, async (n) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((resolve) => setImmediate(resolve));
      running--;
      return n * 10;
    });

    expect(results).toEqual([50, 10, 40, 20, 30, 0]);
    expect(peak).toBe(2);
  });

  it("passes each input's index to the work, and runs nothing for no inputs", async () => {
    expect(await mapLimit(["a", "b", "c"], 5, async (s, i) => `${i}${s}`)).toEqual(["0a", "1b", "2c"]);
    let calls = 0;
    expect(await mapLimit([], 3, async () => ++calls)).toEqual([]);
    expect(calls).toBe(0);
  });
});
