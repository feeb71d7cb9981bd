// A tar archive of named text files, in memory (the flows' snapshot artifacts and S3 objects).
import { pack } from 'tar-stream';

export function tarOf(files: Record<string, string>, mode?: number): Promise<Buffer> {
  const p = pack();
  for (const [name, content] of Object.entries(files))
    p.entry(mode === undefined ? { name } : { name, mode }, content);
  p.finalize();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    p.on('data', (c: unknown) => chunks.push(c as Buffer));
    p.on('end', () => resolve(Buffer.concat(chunks)));
    p.on('error', reject);
  });
}
