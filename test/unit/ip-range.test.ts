/**
 * IP ranges for the `ip` condition (src/policy/ip-range.ts): what parses, what is refused,
 * and the edges of matching (/0, /32, /128, IPv4-mapped IPv6, odd prefix lengths).
 */
import { describe, expect, it } from "vitest";
import { type IpRange, inRange, parseIpAddress, parseIpRange } from "../../src/policy/ip-range";

function range(text: string): IpRange {
  const parsed = parseIpRange(text);
  if (typeof parsed === "string") throw new Error(parsed);
  return parsed;
}

function matches(cidr: string, address: string): boolean {
  const bytes = parseIpAddress(address);
  if (bytes === undefined) throw new Error(`${address} does not parse`);
  return inRange(bytes, range(cidr));
}

describe("parseIpAddress", () => {
  it.each([
    "0.0.0.0",
    "255.255.255.255",
    "203.0.113.7",
    "::",
    "::1",
    "2001:db8::1",
    "2001:DB8:0:0:0:0:0:1",
    "fe80::1:2:3:4:5",
    "::ffff:192.0.2.1",
    "64:ff9b::192.0.2.1",
  ])("reads %s", (text) => {
    expect(parseIpAddress(text)).toBeInstanceOf(Uint8Array);
  });

  it.each([
    "",
    "1.2.3",
    "1.2.3.4.5",
    "256.0.0.1",
    "01.2.3.4",
    "1.2.3.-4",
    " 1.2.3.4",
    "1.2.3.4 ",
    "0x7f.0.0.1",
    "2001:db8:::1",
    "2001:db8::1::2",
    "1:2:3:4:5:6:7:8:9",
    "1:2:3:4:5:6:7",
    "1:2:3:4::5:6:7:8",
    "fe80::1%eth0",
    "12345::",
    ":1",
    "1:",
    "::ffff:1.2.3",
    "unknown",
  ])("refuses %j", (text) => {
    expect(parseIpAddress(text)).toBeUndefined();
  });

  it("reads an IPv4 address and its IPv4-mapped IPv6 form as the same address", () => {
    expect(parseIpAddress("192.0.2.1")).toEqual(parseIpAddress("::ffff:192.0.2.1"));
    expect(parseIpAddress("192.0.2.1")).toEqual(parseIpAddress("::ffff:c000:201"));
    expect(parseIpAddress("::1")).toEqual(parseIpAddress("0:0:0:0:0:0:0:1"));
  });
});

describe("parseIpRange refuses", () => {
  it.each([
    ["10.0.0.1/8", "has bits set after its /8 prefix"],
    ["2001:db8::1/32", "has bits set after its /32 prefix"],
    ["10.0.0.0/33", "has a prefix length that is not 0 to 32"],
    ["2001:db8::/129", "has a prefix length that is not 0 to 128"],
    ["10.0.0.0/", "has a prefix length"],
    ["10.0.0.0/08", "has a prefix length"],
    ["10.0.0.0/-1", "has a prefix length"],
    ["10.0.0.0/8/8", "has a prefix length"],
    ["10.0.0/8", "is not an IPv4 or IPv6 address or range"],
    ["example.com/24", "is not an IPv4 or IPv6 address or range"],
    ["/24", "is not an IPv4 or IPv6 address or range"],
  ])("%j: %s", (text, problem) => {
    expect(parseIpRange(text)).toContain(problem);
  });
});

describe("inRange", () => {
  it("0.0.0.0/0 holds every IPv4 address, and its IPv4-mapped forms, but no other IPv6 one", () => {
    expect(matches("0.0.0.0/0", "0.0.0.0")).toBe(true);
    expect(matches("0.0.0.0/0", "255.255.255.255")).toBe(true);
    expect(matches("0.0.0.0/0", "::ffff:8.8.8.8")).toBe(true);
    expect(matches("0.0.0.0/0", "2001:db8::1")).toBe(false);
    expect(matches("0.0.0.0/0", "::1")).toBe(false);
  });

  it("::/0 holds every address, IPv4 ones too (as ::ffff:a.b.c.d)", () => {
    expect(matches("::/0", "2001:db8::1")).toBe(true);
    expect(matches("::/0", "8.8.8.8")).toBe(true);
  });

  it("/32 and a bare IPv4 address hold that address alone", () => {
    expect(matches("203.0.113.7/32", "203.0.113.7")).toBe(true);
    expect(matches("203.0.113.7", "203.0.113.7")).toBe(true);
    expect(matches("203.0.113.7/32", "203.0.113.6")).toBe(false);
    expect(matches("203.0.113.7/32", "203.0.113.8")).toBe(false);
    expect(matches("203.0.113.7", "::ffff:203.0.113.7")).toBe(true);
  });

  it("/128 and a bare IPv6 address hold that address alone", () => {
    expect(matches("2001:db8::7/128", "2001:db8::7")).toBe(true);
    expect(matches("2001:db8::7", "2001:0db8:0000::0007")).toBe(true);
    expect(matches("2001:db8::7/128", "2001:db8::6")).toBe(false);
  });

  it("a /24 and a /32 IPv6 range: inside, and just outside at both ends", () => {
    expect(matches("203.0.113.0/24", "203.0.113.0")).toBe(true);
    expect(matches("203.0.113.0/24", "203.0.113.255")).toBe(true);
    expect(matches("203.0.113.0/24", "203.0.112.255")).toBe(false);
    expect(matches("203.0.113.0/24", "203.0.114.0")).toBe(false);
    expect(matches("2001:db8::/32", "2001:db8:ffff::1")).toBe(true);
    expect(matches("2001:db8::/32", "2001:db9::")).toBe(false);
  });

  it("a prefix that ends inside a byte", () => {
    expect(matches("10.0.0.0/9", "10.127.255.255")).toBe(true);
    expect(matches("10.0.0.0/9", "10.128.0.0")).toBe(false);
    expect(matches("2001:db8:8000::/33", "2001:db8:8000::1")).toBe(true);
    expect(matches("2001:db8:8000::/33", "2001:db8:7fff::1")).toBe(false);
  });

  it("an IPv4-mapped IPv6 range is the IPv4 range", () => {
    expect(matches("::ffff:203.0.113.0/120", "203.0.113.9")).toBe(true);
    expect(matches("::ffff:203.0.113.0/120", "203.0.114.9")).toBe(false);
  });

  it("a v4 range does not hold an IPv6 address with the same low bits (NAT64, IPv4-compatible)", () => {
    expect(matches("203.0.113.0/24", "64:ff9b::203.0.113.7")).toBe(false);
    expect(matches("203.0.113.0/24", "::203.0.113.7")).toBe(false);
  });
});
