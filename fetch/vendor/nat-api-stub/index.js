// TrustSwarm stub for @silentbot1/nat-api. Agents never map ports through UPnP or NAT-PMP
// (DESIGN.md; the engine passes natUpnp: false, natPmp: false), yet webtorrent imports
// nat-api unconditionally, and with it xml2js, default-gateway and chrome-dgram: ~0.15 s
// of CPU at every start of `tsw-agent` (node-agent README, "Benchmark"). webtorrent
// creates its NAT client only when `typeof NatAPI === 'function'`, so this leaves it off.
export default undefined;
