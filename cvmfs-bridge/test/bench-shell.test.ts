// The benchmarks' command runner (bench/bench-env.ts BenchShell): commands run by a shell
// started once, so the bench process does not fork itself before a timed phase.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BenchShell } from '../bench/bench-env.js';

const dirs: string[] = [];
const shells: BenchShell[] = [];
afterEach(() => {
  for (const s of shells.splice(0)) s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setup(): { dir: string; shell: BenchShell } {
  const dir = mkdtempSync(join(tmpdir(), 'tsw-bench-shell-'));
  dirs.push(dir);
  const shell = new BenchShell();
  shells.push(shell);
  return { dir, shell };
}

describe('BenchShell', () => {
  it('runs commands in order with every argument passed verbatim', async () => {
    const { dir, shell } = setup();
    const file = join(dir, "it's a $file; `x`");
    const tricky = `a b 'c' "d" $HOME \\ ; | * end`;
    await Promise.all([
      shell.run(['sh', '-c', 'printf "%s\\n" "$1" > "$2"', 'sh', tricky, file]),
      shell.run(['sh', '-c', 'printf "%s\\n" "$1" >> "$2"', 'sh', 'second', file]),
    ]);
    expect(readFileSync(file, 'utf8')).toBe(`${tricky}\nsecond\n`);
  });

  it('rejects a command that fails, with its exit status, and keeps serving', async () => {
    const { shell } = setup();
    await expect(shell.run(['sh', '-c', 'exit 3'])).rejects.toThrow(/exit 3/);
    await expect(shell.run(['sh', '-c', 'exit 0'])).resolves.toBeUndefined();
    await expect(shell.run(['/nonexistent/command'])).rejects.toThrow(/failed \(exit 127\)/);
  });

  it("gives commands no stdin (the request pipe stays the shell's)", async () => {
    const { dir, shell } = setup();
    const file = join(dir, 'stdin');
    await shell.run(['sh', '-c', 'cat > "$1"', 'sh', file]);
    await shell.run(['sh', '-c', 'echo after >> "$1"', 'sh', file]);
    expect(readFileSync(file, 'utf8')).toBe('after\n');
  });

  it('refuses arguments with a line break (the protocol is one line per command)', () => {
    const { shell } = setup();
    expect(() => shell.run(['echo', 'a\nb'])).toThrow(/line breaks/);
  });
});
