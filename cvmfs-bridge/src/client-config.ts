// What a site needs to mount a repository with a stock CVMFS client: the config snippet and
// the master public key (to be placed at the CVMFS_PUBLIC_KEY path).

export function clientConfig(fqrn: string, publicUrl: string, masterPublicKeyPem: string) {
  const keyPath = `/etc/cvmfs/keys/${fqrn}.pub`;
  const config = [
    `# /etc/cvmfs/config.d/${fqrn}.conf`,
    `CVMFS_SERVER_URL=${publicUrl}`,
    `CVMFS_PUBLIC_KEY=${keyPath}`,
    'CVMFS_HTTP_PROXY=DIRECT   # or your site Squid, e.g. http://squid.example.org:3128',
    '',
    `# and in /etc/cvmfs/default.local: CVMFS_REPOSITORIES=${fqrn}`,
  ].join('\n');
  return { fqrn, keyPath, config, publicKey: masterPublicKeyPem };
}
