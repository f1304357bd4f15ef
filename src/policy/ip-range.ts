/**
 * IP ranges (CIDR) for the `ip` route condition, and the client address they are matched
 * against. Every address is read into one 16-byte form: an IPv4 address as its IPv4-mapped
 * IPv6 address (`::ffff:a.b.c.d`, RFC 4291 §2.5.5.2) and an IPv4 range as the same range
 * in that space (prefix + 96). So `203.0.113.0/24` matches `203.0.113.7` and
 * `::ffff:203.0.113.7` alike, and `::/0` matches every address, IPv4 ones too.
 *
 * Parsing is strict, because a range read differently from what its author meant opens a
 * route: IPv4 as four decimal octets without leading zeros (`010.0.0.1` is octal to some
 * parsers), no zone ids (`fe80::1%eth0`), and no bits set past the prefix (`10.0.0.1/8`
 * is refused: did the author mean the network or the host?).
 */

/** A range in the 16-byte form: the network's bytes and how many leading bits count. */
export interface IpRange {
  readonly bytes: Uint8Array;
  readonly prefix: number;
  /** As written in the config, for messages and the log. */
  readonly text: string;
}

const OCTET = /^(?:0|[1-9]\d{0,2})$/;
const HEXTET = /^[0-9a-fA-F]{1,4}$/;

function ipv4Bytes(text: string): number[] | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const bytes: number[] = [];
  for (const part of parts) {
    if (!OCTET.test(part)) return undefined;
    const value = Number(part);
    if (value > 255) return undefined;
    bytes.push(value);
  }
  return bytes;
}

function hextets(parts: readonly string[]): number[] | undefined {
  const bytes: number[] = [];
  for (const part of parts) {
    if (!HEXTET.test(part)) return undefined;
    const value = Number.parseInt(part, 16);
    bytes.push(value >> 8, value & 0xff);
  }
  return bytes;
}

function ipv6Bytes(text: string): number[] | undefined {
  let groups = text;
  let v4: number[] | undefined;
  // An embedded IPv4 address in the last 32 bits (`::ffff:192.0.2.1`): read as two groups.
  const lastColon = text.lastIndexOf(":");
  const last = text.slice(lastColon + 1);
  if (last.includes(".")) {
    v4 = ipv4Bytes(last);
    if (v4 === undefined) return undefined;
    groups = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = groups.split("::");
  if (halves.length > 2) return undefined;
  const front = hextets(halves[0] === "" ? [] : (halves[0] as string).split(":"));
  if (front === undefined) return undefined;
  let bytes: number[];
  if (halves.length === 1) {
    if (front.length !== 16) return undefined;
    bytes = front;
  } else {
    const back = hextets(halves[1] === "" ? [] : (halves[1] as string).split(":"));
    if (back === undefined) return undefined;
    const zeros = 16 - front.length - back.length;
    // "::" stands for at least one group of zeros.
    if (zeros < 2) return undefined;
    bytes = [...front, ...new Array<number>(zeros).fill(0), ...back];
  }
  if (v4 !== undefined) bytes.splice(12, 4, ...v4);
  return bytes;
}

/** An address in the 16-byte form, or undefined when `text` is not one. */
export function parseIpAddress(text: string): Uint8Array | undefined {
  if (text.length === 0 || text.length > 45) return undefined;
  if (!text.includes(":")) {
    const v4 = ipv4Bytes(text);
    return v4 === undefined ? undefined : Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...v4);
  }
  const v6 = ipv6Bytes(text);
  return v6 === undefined ? undefined : Uint8Array.from(v6);
}

/** A range (`203.0.113.0/24`, `2001:db8::/32`, or one address), or why it is not one. */
export function parseIpRange(text: string): IpRange | string {
  const slash = text.indexOf("/");
  const address = slash < 0 ? text : text.slice(0, slash);
  const bytes = parseIpAddress(address);
  if (bytes === undefined) return `"${text}" is not an IPv4 or IPv6 address or range`;
  const v4 = !address.includes(":");
  const width = v4 ? 32 : 128;
  let prefix = width;
  if (slash >= 0) {
    const bits = text.slice(slash + 1);
    if (!/^(?:0|[1-9]\d{0,2})$/.test(bits) || Number(bits) > width) {
      return `"${text}" has a prefix length that is not 0 to ${width}`;
    }
    prefix = Number(bits);
  }
  const full = v4 ? prefix + 96 : prefix;
  if (!bitsAfterPrefixClear(bytes, full)) return `"${text}" has bits set after its /${prefix} prefix`;
  return Object.freeze({ bytes, prefix: full, text });
}

function bitsAfterPrefixClear(bytes: Uint8Array, prefix: number): boolean {
  for (let bit = prefix; bit < 128; bit++) {
    if (((bytes[bit >> 3] as number) >> (7 - (bit & 7))) & 1) return false;
  }
  return true;
}

/** Whether the address (16-byte form) lies in the range. */
export function inRange(address: Uint8Array, range: IpRange): boolean {
  const whole = range.prefix >> 3;
  for (let index = 0; index < whole; index++) {
    if (address[index] !== range.bytes[index]) return false;
  }
  const rest = range.prefix & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (((address[whole] as number) ^ (range.bytes[whole] as number)) & mask) === 0;
}
