#!/usr/bin/env -S node --max-semi-space-size=2
// tsw-agent entry point; the commands are in commands.ts, each loading only what it needs.
//
// `--max-semi-space-size=2` (MiB, in the line above): V8's young generation otherwise grows
// to 16 MiB semi-spaces. Besides the heap itself, every socket read (a 64 KiB malloc'd
// buffer) stays allocated until the scavenge after it, so a smaller young generation also
// means fewer dead reads in memory: peak RSS of a 1 GiB download about 142 MB instead of
// 165-170 (4 MiB: ~150, 1 MiB: no lower, more scavenge time; README, "Benchmark"). It is a
// start-up flag: `tsw-agent` and the systemd unit get it from this line; `node dist/cli.js`
// does not (the download benchmark passes it, see bench/download.ts).

const { runCli } = await import('./commands.js');
runCli();
