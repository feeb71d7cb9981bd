#!/usr/bin/env -S node --max-semi-space-size=4
// tsw-agent entry point; the commands are in commands.ts, each loading only what it needs.
//
// `--max-semi-space-size=4` (MiB, in the line above): V8's young generation otherwise grows
// to 16 MiB semi-spaces (up to 48 MiB committed). The data path's garbage is short-lived, so
// scavenges of a 4 MiB semi-space stay cheap, and the agent's peak RSS is 15-25 MB lower
// (README, "Benchmark"). It is a start-up flag: `tsw-agent` and the systemd unit get it from
// this line; `node dist/cli.js` does not (the benchmark passes it, see bench/download.ts).

const { runCli } = await import('./commands.js');
runCli();
