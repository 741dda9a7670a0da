/**
 * Decoding of the struct sockaddr that getsockopt(SO_ORIGINAL_DST) fills in (Linux, x86_64 and
 * arm64 layouts are the same): sockaddr_in is 16 bytes, sockaddr_in6 is 28. Family and port are
 * read explicitly (family in host order, port in network order) so the result does not depend on
 * the machine's byte order for the port.
 */
import { formatIp } from "../net/ip.ts";
import type { SocketAddress } from "./port.ts";

export const SOL_IP = 0;
export const SOL_IPV6 = 41;
/** SO_ORIGINAL_DST (IPv4) and IP6T_SO_ORIGINAL_DST (IPv6) share the number 80. */
export const SO_ORIGINAL_DST = 80;
export const SOCKADDR_BUFFER_SIZE = 28;

const AF_INET = 2;
const AF_INET6 = 10;

export function decodeSockaddr(buf: Uint8Array, length: number): SocketAddress | null {
  if (length < 8 || buf.length < length) return null;
  const view = new DataView(buf.buffer, buf.byteOffset, length);
  const family = view.getUint16(0, true);
  const port = view.getUint16(2, false);
  if (family === AF_INET && length >= 8) {
    return { family: 4, address: `${buf[4]}.${buf[5]}.${buf[6]}.${buf[7]}`, port };
  }
  if (family === AF_INET6 && length >= 24) {
    return { family: 6, address: formatIp(buf.subarray(8, 24)), port };
  }
  return null;
}

/**
 * Ask for the original destination on `fd`: IPv4 first (it also answers for IPv4-mapped sockets),
 * then IPv6. `getsockopt` is the adapter's FFI binding; it returns 0 on success like libc.
 */
export function queryOriginalDestination(
  fd: number,
  getsockopt: (fd: number, level: number, name: number, value: Uint8Array, length: Uint32Array) => number,
): SocketAddress | null {
  for (const level of [SOL_IP, SOL_IPV6]) {
    const buf = new Uint8Array(SOCKADDR_BUFFER_SIZE);
    const len = new Uint32Array([SOCKADDR_BUFFER_SIZE]);
    if (getsockopt(fd, level, SO_ORIGINAL_DST, buf, len) === 0) {
      const decoded = decodeSockaddr(buf, len[0] ?? 0);
      if (decoded) return decoded;
    }
  }
  return null;
}
