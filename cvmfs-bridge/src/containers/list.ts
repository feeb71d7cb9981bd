// The published images of a repository as clients see them: every .metadata/…/image.json of
// the current revision, read through the verifying reader.
import type { RepositoryReader } from '../reader/reader.js';
import type { ImageRecord } from './convert.js';
import { ContainerLayout } from './layout.js';

export async function listPublishedImages(reader: RepositoryReader, basePath = '/'): Promise<ImageRecord[]> {
  const layout = new ContainerLayout(basePath);
  const out: ImageRecord[] = [];
  const walk = async (dir: string) => {
    for (const d of await reader.list(dir)) {
      const path = `${dir}/${d.name}`;
      if (d.kind === 'dir') await walk(path);
      else if (d.kind === 'file' && d.name === 'image.json')
        out.push(JSON.parse((await reader.readFile(path)).toString('utf8')) as ImageRecord);
    }
  };
  if ((await reader.lookup(layout.areas().metadata))?.kind === 'dir') await walk(layout.areas().metadata);
  return out.sort((a, b) => (a.reference < b.reference ? -1 : 1));
}
