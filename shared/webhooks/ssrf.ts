/**
 * The SSRF guard of webhook delivery. In AWS a target must be https and must not resolve to a private, loopback,
 * link-local (the instance metadata service), unspecified, CGNAT, multicast or unique-local address; the check runs on
 * every send, as the connection's own DNS lookup, so the address checked is the address connected to (no rebinding
 * between a check and the request). The local stack (`loopback`) also allows http and loopback targets.
 */
import { lookup as dnsLookup } from "node:dns";
import { BlockList, isIP, type LookupFunction } from "node:net";
import { ValidationError } from "../domain/errors.js";

export type WebhookTargets = "https" | "loopback";

const blocked = new BlockList();
for (const [net, prefix] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
] as const) {
  blocked.addSubnet(net, prefix, "ipv4");
}
for (const [net, prefix] of [
  ["::", 128],
  ["::1", 128],
  ["fc00::", 7],
  ["fe80::", 10],
  ["ff00::", 8],
] as const) {
  blocked.addSubnet(net, prefix, "ipv6");
}

/** Whether an address may be a webhook target in AWS. */
export function isPublicAddress(address: string): boolean {
  // An IPv4-mapped IPv6 address reaches the IPv4 address it maps.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1]) return isPublicAddress(mapped[1]);
  if (/^::ffff:/i.test(address)) return false; // the hexadecimal spelling of a mapped address: refused outright
  const family = isIP(address);
  if (family === 0) return false;
  return !blocked.check(address, family === 4 ? "ipv4" : "ipv6");
}

/** The checks possible without DNS, at PUT time: scheme, and a literal address or `localhost`. */
export function checkTargetUrl(raw: string, targets: WebhookTargets): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ValidationError("`url` is not a URL", { field: "url" });
  }
  if (url.username || url.password) throw new ValidationError("`url` must not carry credentials", { field: "url" });
  if (targets === "loopback") {
    if (url.protocol !== "https:" && url.protocol !== "http:") {
      throw new ValidationError("`url` must be http or https", { field: "url" });
    }
    return url;
  }
  if (url.protocol !== "https:") throw new ValidationError("`url` must be https", { field: "url" });
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (host === "localhost" || host.endsWith(".localhost") || (isIP(host) !== 0 && !isPublicAddress(host))) {
    throw new ValidationError("`url` must not point at a private, loopback or link-local address", { field: "url" });
  }
  return url;
}

/** A blocked target, found at send time. */
export class BlockedTargetError extends Error {
  constructor(host: string, address: string) {
    super(`webhook target ${host} resolves to ${address}, which is not a public address`);
    this.name = "BlockedTargetError";
  }
}

/** The DNS lookup a delivery connects with: every resolved address is checked, and a blocked one fails the send. */
export function guardedLookup(targets: WebhookTargets, resolve: typeof dnsLookup = dnsLookup): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, "", 0);
      const list = Array.isArray(addresses) ? addresses : [];
      const bad = targets === "https" ? list.find((a) => !isPublicAddress(a.address)) : undefined;
      if (bad) return callback(new BlockedTargetError(hostname, bad.address), "", 0);
      const first = list[0];
      if (!first) return callback(new Error(`no address for ${hostname}`), "", 0);
      if ((options as { all?: boolean }).all)
        return (callback as unknown as (e: null, a: typeof list) => void)(null, list);
      return callback(null, first.address, first.family);
    });
  };
}
