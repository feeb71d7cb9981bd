// TrustSwarm stub for webrtc-polyfill. Agents talk BitTorrent over TCP only; WebRTC would
// need the native node-datachannel binary, downloaded from GitHub at install time.
// simple-peer checks these for truthiness and reports "no WebRTC support".
export const RTCPeerConnection = undefined;
export const RTCSessionDescription = undefined;
export const RTCIceCandidate = undefined;
export default { RTCPeerConnection, RTCSessionDescription, RTCIceCandidate };
