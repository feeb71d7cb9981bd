// Where the engine accepts peers. webtorrent (3.0.21) listens on every interface: inside the
// WebTorrent constructor its ConnPool calls net.Server#listen(port) and its DHT binds a UDP
// socket with dgram Socket#bind(port), with no way to pass an address. A hypervisor on a
// public and a site network wants the agent on the site network only (libtorrent's
// listen_interfaces, transmission's bind-address-ipv4, aria2c's --interface), and tests bind
// 127.0.0.1. So for the duration of the constructor call only — it is synchronous — the two
// methods add the address to calls that name none; the engine then checks where the client
// actually listens, so a webtorrent that binds some other way is refused, not trusted.

import { Socket as UdpSocket } from 'node:dgram';
import { Server } from 'node:net';

/** Runs `construct` with listening sockets that name no address bound to `address` ('' = all). */
export function constructListeningOn<T>(address: string, construct: () => T): T {
  if (!address) return construct();
  const listen = Server.prototype.listen;
  const bind = UdpSocket.prototype.bind;
  // listen(port[, backlog][, cb]) and bind(port[, cb]) gain the address after the port
  const withAddress = (args: unknown[]): unknown[] =>
    typeof args[0] === 'number' && typeof args[1] !== 'string' ? [args[0], address, ...args.slice(1)] : args;
  Server.prototype.listen = function (this: Server, ...args: unknown[]) {
    return (listen as (...a: unknown[]) => Server).apply(this, withAddress(args));
  } as typeof listen;
  UdpSocket.prototype.bind = function (this: UdpSocket, ...args: unknown[]) {
    return (bind as (...a: unknown[]) => UdpSocket).apply(this, withAddress(args));
  } as typeof bind;
  try {
    return construct();
  } finally {
    Server.prototype.listen = listen;
    UdpSocket.prototype.bind = bind;
  }
}
