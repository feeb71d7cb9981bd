#!/usr/bin/env node
// tsw-agent entry point: sets the V8 heap flags before any other module is loaded, then runs
// the command (commands.ts).
//
// The young generation stays at its initial size (1 MiB semi-spaces) instead of growing to
// 16 MiB ones (48 MiB of young generation committed in all): the data path's garbage is
// short-lived, so small scavenges stay cheap, and resident memory is lower (README,
// "Benchmark"). Semi-space flags given to node (command line or NODE_OPTIONS) win.

import { setFlagsFromString } from 'node:v8';

const nodeFlags = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].join(' ');
if (!nodeFlags.includes('semi-space')) setFlagsFromString('--semi-space-growth-factor=1');

const { runCli } = await import('./commands.js');
runCli();
