#!/usr/bin/env -S node --max-semi-space-size=2 --heap-growing-percent=200
// tsw-agent entry point; the commands are in commands.ts, each loading only what it needs.
//
// `--max-semi-space-size=2` (MiB, in the line above): V8's young generation otherwise grows
// to 16 MiB semi-spaces. Besides the heap itself, every socket read (a 64 KiB malloc'd
// buffer) stays allocated until the scavenge after it, so a smaller young generation also
// means fewer dead reads in memory: peak RSS of a 1 GiB download about 142 MB instead of
// 165-170 (4 MiB: ~150, 1 MiB: no lower, more scavenge time; README, "Benchmark"). It is a
// start-up flag: `tsw-agent` and the systemd unit get it from this line; `node dist/cli.js`
// does not (the download benchmark passes it, see bench/download.ts).
//
// `--heap-growing-percent=200`: after each mark-compact V8 sets the old generation's limit
// to 3 × what survived. Its own factor follows the JavaScript allocation rate, which is low
// here, so the limit grew only ~1.35 × while the socket and disk buffers' external memory
// filled it: a mark-compact every 0.4-1.5 s in the swarm benchmark. With the flag 12-25
// per round instead of 40-80, agents' CPU -15 to -20 %, the leecher's peak RSS unchanged
// (test/README, "Session 9").

const { runCli } = await import('./commands.js');
runCli();
