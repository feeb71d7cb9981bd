// cross-fetch-ponyfill's Node entry prefers Node's global fetch, Headers, Request, Response
// and FormData; reading any of them loads undici and, on the first request, compiles its
// llhttp WebAssembly: ~0.3 s of CPU at every start of `tsw-agent fetch` (node-agent README,
// "Benchmark"). Its own fallback, node-fetch (over node:http), is what this exports instead:
// webtorrent and bittorrent-tracker only call fetch and read `arrayBuffer()`, and
// bittorrent-tracker passes node-fetch's `agent` option already. `fetch` resolves node-fetch
// through @trustswarm/fetch's dependencies (this directory is linked, not installed).

export {
  AbortError,
  Blob,
  blobFrom,
  blobFromSync,
  default,
  default as fetch,
  FetchError,
  File,
  FormData,
  fileFrom,
  fileFromSync,
  Headers,
  isRedirect,
  Request,
  Response,
} from 'node-fetch';

export const AbortController = globalThis.AbortController;
export const AbortSignal = globalThis.AbortSignal;
