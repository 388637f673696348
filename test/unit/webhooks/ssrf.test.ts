import type { LookupAddress } from "node:dns";
import { describe, expect, it } from "vitest";
import { ValidationError } from "../../../shared/domain/errors.js";
import { BlockedTargetError, checkTargetUrl, guardedLookup, isPublicAddress } from "../../../shared/webhooks/ssrf.js";

describe("SSRF guard", () => {
  it.each([
    "127.0.0.1",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "::1",
    "fe80::1",
    "fd00::1",
    "::ffff:127.0.0.1",
    "::ffff:7f00:1",
  ])("refuses %s", (address) => {
    expect(isPublicAddress(address)).toBe(false);
  });

  it.each(["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])("allows the public address %s", (address) => {
    expect(isPublicAddress(address)).toBe(true);
  });

  it("requires https and refuses literal private hosts at PUT time, but allows loopback and http locally", () => {
    expect(() => checkTargetUrl("http://hooks.example.com/x", "https")).toThrow(ValidationError);
    expect(() => checkTargetUrl("https://127.0.0.1/x", "https")).toThrow(ValidationError);
    expect(() => checkTargetUrl("https://[::1]/x", "https")).toThrow(ValidationError);
    expect(() => checkTargetUrl("https://localhost/x", "https")).toThrow(ValidationError);
    expect(() => checkTargetUrl("https://user:pw@hooks.example.com/x", "https")).toThrow(ValidationError);
    expect(checkTargetUrl("https://hooks.example.com/x", "https").hostname).toBe("hooks.example.com");
    expect(checkTargetUrl("http://127.0.0.1:8080/x", "loopback").port).toBe("8080");
    expect(() => checkTargetUrl("ftp://127.0.0.1/x", "loopback")).toThrow(ValidationError);
  });

  const resolveTo =
    (...addresses: string[]) =>
    (_host: string, _options: unknown, callback: (error: Error | null, addresses: LookupAddress[]) => void) =>
      callback(
        null,
        addresses.map((address) => ({ address, family: address.includes(":") ? 6 : 4 })),
      );

  const lookup = (targets: "https" | "loopback", ...addresses: string[]) =>
    new Promise<{ error: Error | null; address: string }>((resolve) => {
      const fn = guardedLookup(targets, resolveTo(...addresses) as never);
      fn("hooks.example.com", { family: 0 }, (error, address) => resolve({ error, address: String(address) }));
    });

  it("fails a send whose name resolves to a private or metadata address, even when another address is public", async () => {
    expect((await lookup("https", "169.254.169.254")).error).toBeInstanceOf(BlockedTargetError);
    expect((await lookup("https", "93.184.216.34", "10.0.0.5")).error).toBeInstanceOf(BlockedTargetError);
    expect(await lookup("https", "93.184.216.34")).toEqual({ error: null, address: "93.184.216.34" });
    expect(await lookup("loopback", "127.0.0.1")).toEqual({ error: null, address: "127.0.0.1" });
  });
});
