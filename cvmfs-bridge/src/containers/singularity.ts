// Apptainer/Singularity metadata for a flat root filesystem (`.singularity.d`), written the
// way docker2singularity and DUCC write it, so `apptainer exec /cvmfs/…/REPO:TAG cmd` gets
// the image's environment and `apptainer run` its entrypoint and command.
import type { ImageConfig } from './manifest.js';

export interface SingularityFile {
  readonly path: string;
  readonly content: string;
  readonly mode: number;
}

/** Single-quotes a string for POSIX sh. */
export function shQuote(value: string): string {
  return `'${value.replace(/'/g, `'"'"'`)}'`;
}

function envScript(env: readonly string[]): string {
  const lines = ['#!/bin/sh', '# Environment of the OCI image config (written by tsw-bridge).'];
  for (const item of env) {
    const eq = item.indexOf('=');
    if (eq <= 0) continue;
    const key = item.slice(0, eq);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) continue;
    const value = item.slice(eq + 1);
    // As Apptainer does for Docker images: PATH comes from the image, other variables only
    // when the host did not set them.
    lines.push(
      key === 'PATH'
        ? `export PATH=${shQuote(value)}`
        : `if [ -z "\${${key}+x}" ]; then export ${key}=${shQuote(value)}; fi`,
    );
  }
  return `${lines.join('\n')}\n`;
}

function runscript(config: ImageConfig): string {
  const c = config.config ?? {};
  const entrypoint = (c.Entrypoint ?? []).map(shQuote).join(' ');
  const cmd = (c.Cmd ?? []).map(shQuote).join(' ');
  const lines = ['#!/bin/sh', '# Entrypoint and command of the OCI image config (written by tsw-bridge).'];
  if (c.WorkingDir) lines.push(`cd ${shQuote(c.WorkingDir)} 2>/dev/null || true`);
  lines.push('if [ $# -gt 0 ]; then');
  lines.push(entrypoint ? `  set -- ${entrypoint} "$@"` : '  :');
  lines.push('else');
  lines.push(
    entrypoint || cmd ? `  set -- ${[entrypoint, cmd].filter(Boolean).join(' ')}` : '  set -- /bin/sh',
  );
  lines.push('fi');
  lines.push('exec "$@"');
  return `${lines.join('\n')}\n`;
}

const ACTIONS: Record<string, string> = {
  exec: 'for script in /.singularity.d/env/*.sh; do [ -f "$script" ] && . "$script"; done\nexec "$@"\n',
  run: 'for script in /.singularity.d/env/*.sh; do [ -f "$script" ] && . "$script"; done\nexec /.singularity.d/runscript "$@"\n',
  shell:
    'for script in /.singularity.d/env/*.sh; do [ -f "$script" ] && . "$script"; done\nexec /bin/sh "$@"\n',
  start:
    'for script in /.singularity.d/env/*.sh; do [ -f "$script" ] && . "$script"; done\n[ -x /.singularity.d/startscript ] && exec /.singularity.d/startscript "$@"\n',
  test: 'for script in /.singularity.d/env/*.sh; do [ -f "$script" ] && . "$script"; done\n[ -x /.singularity.d/test ] && exec /.singularity.d/test "$@"\n',
};

/** The files of `.singularity.d` (paths relative to the flat root). */
export function singularityFiles(config: ImageConfig): SingularityFile[] {
  const labels = config.config?.Labels ?? {};
  const files: SingularityFile[] = [
    {
      path: '.singularity.d/env/10-docker2singularity.sh',
      content: envScript(config.config?.Env ?? []),
      mode: 0o755,
    },
    { path: '.singularity.d/runscript', content: runscript(config), mode: 0o755 },
    { path: '.singularity.d/labels.json', content: `${JSON.stringify(labels, null, 2)}\n`, mode: 0o644 },
  ];
  for (const [name, body] of Object.entries(ACTIONS))
    files.push({ path: `.singularity.d/actions/${name}`, content: `#!/bin/sh\n${body}`, mode: 0o755 });
  return files;
}
