/**
 * What counts as loopback: 127.0.0.0/8, ::1 and their IPv4-mapped form. A Unix socket
 * peer (no address) is local too; the socket file's permissions decide who may connect.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** True for an IP literal in 127.0.0.0/8 or ::1 (also `::ffff:127.x.y.z`). */
export function isLoopbackIp(address: string): boolean {
  const a = address.toLowerCase();
  if (isIPv4(a)) return a.startsWith('127.');
  if (!isIPv6(a)) return false;
  if (a.startsWith('::ffff:')) return isLoopbackIp(a.slice('::ffff:'.length));
  return a === '::1' || a === '0:0:0:0:0:0:0:1';
}

/** True when a request's peer is on this host (loopback IP, or a Unix socket). */
export function isLocalPeer(remoteAddress: string | undefined): boolean {
  return remoteAddress === undefined || remoteAddress === '' || isLoopbackIp(remoteAddress);
}
